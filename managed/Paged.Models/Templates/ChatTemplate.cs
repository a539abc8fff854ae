namespace Paged.Models.Templates;

/// <summary>
/// A HuggingFace chat template (Jinja2), parsed once and rendered per request the way transformers'
/// apply_chat_template renders it: variables messages, tools, documents, add_generation_prompt, bos_token,
/// eos_token and the caller's extras.
/// </summary>
public sealed class ChatTemplate
{
    private readonly Template _template;

    /// <summary>Parses <paramref name="source"/>; throws <see cref="TemplateException"/> (with line and column) on a syntax error.</summary>
    public ChatTemplate(string source)
    {
        Source = source;
        _template = Template.Parse(source);
    }

    public string Source { get; }

    /// <summary>Renders the prompt; throws <see cref="TemplateException"/> when the template rejects the conversation
    /// (raise_exception), misuses a value, or exceeds its limits.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, ChatTemplateContext? extra = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        extra ??= new ChatTemplateContext();
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (extra.Variables is not null)
        {
            foreach (var (name, value) in extra.Variables)
            {
                variables[name] = value;
            }
        }

        variables["bos_token"] = extra.BosToken;
        variables["eos_token"] = extra.EosToken;
        variables["messages"] = messages.Select(m => (object?)m.ToTemplateValue()).ToList();
        variables["tools"] = extra.Tools;
        variables["documents"] = null;
        variables["add_generation_prompt"] = addGenerationPrompt;
        return _template.Render(variables, extra.Limits, extra.Now);
    }
}
