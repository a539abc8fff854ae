namespace Paged.Models.Templates;

/// <summary>Positional and keyword arguments of one filter, test or function call, read the way Python binds them.</summary>
internal readonly record struct CallArguments(List<object?> Positional, Dictionary<string, object?> Keyword, string Callee)
{
    /// <summary>The argument at <paramref name="index"/> (counting after the value a filter or test receives), or by name.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index < Positional.Count)
        {
            return Positional[index];
        }

        return Keyword.TryGetValue(name, out object? value) ? value : fallback;
    }

    public bool Has(int index, string name) => index < Positional.Count || Keyword.ContainsKey(name);

    public string? OptString(int index, string name) => Get(index, name) switch
    {
        null or Undefined => null,
        string s => s,
        var other => throw new TemplateException($"{Callee}: '{name}' must be a string, not {Operations.TypeName(other)}"),
    };

    public bool Bool(int index, string name, bool fallback) => Has(index, name) ? Operations.Truthy(Get(index, name)) : fallback;
}
