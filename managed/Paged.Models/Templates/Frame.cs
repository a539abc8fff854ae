namespace Paged.Models.Templates;

/// <summary>A variable scope: the template's top level, one for-loop iteration, one macro call.</summary>
internal sealed class Frame
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);
    private readonly Frame? _parent;

    public Frame(Frame? parent) => _parent = parent;

    public bool TryLookup(string name, out object? value)
    {
        for (Frame? f = this; f is not null; f = f._parent)
        {
            if (f._variables.TryGetValue(name, out value))
            {
                return true;
            }
        }

        value = null;
        return false;
    }

    public void Set(string name, object? value) => _variables[name] = value;
}
