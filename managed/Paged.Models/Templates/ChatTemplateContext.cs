namespace Paged.Models.Templates;

/// <summary>What a chat template renders with besides the messages: special tokens, tools, extra variables.</summary>
public sealed record ChatTemplateContext
{
    public string BosToken { get; init; } = "";

    public string EosToken { get; init; } = "";

    /// <summary>Tool schemas (OpenAI "tools" entries, JSON-like); null renders as transformers does without tools (tools = None).</summary>
    public IReadOnlyList<object?>? Tools { get; init; }

    /// <summary>Extra template variables (enable_thinking, date_string, ...), like apply_chat_template's **kwargs.</summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }

    /// <summary>The clock strftime_now reads; local time, as Python's datetime.now().</summary>
    public Func<DateTime> Now { get; init; } = () => DateTime.Now;

    public TemplateLimits Limits { get; init; } = new();
}
