using System.Text.Json;
using Paged.Models.Gguf;
using Paged.Models.Templates;
using Paged.Models.Tokenization;

namespace Paged.Server;

/// <summary>
/// Turns chat messages into prompt token ids: the chat template renders the text (with bos_token "&lt;s&gt;" and
/// eos_token "&lt;/s&gt;"), then those two markers become the tokenizer's BOS and EOS ids and the text between them
/// is encoded without special tokens (the tokenizers Paged loads today do not parse special tokens in text).
/// </summary>
public sealed class ChatPrompt(ChatTemplate template, ITokenizer tokenizer)
{
    public const string BosText = "<s>";
    public const string EosText = "</s>";

    /// <summary>Used when the model has no chat template and none is given with --chat-template.</summary>
    public const string DefaultTemplate =
        "{{ bos_token }}"
        + "{%- for message in messages -%}"
        + "{%- if message['role'] == 'system' -%}{{ message['content'] | trim }}{{ '\\n\\n' }}"
        + "{%- elif message['role'] == 'user' -%}User: {{ message['content'] | trim }}{{ '\\n' }}"
        + "{%- else -%}Assistant: {{ message['content'] | trim }}{{ eos_token }}{{ '\\n' }}"
        + "{%- endif -%}"
        + "{%- endfor -%}"
        + "{%- if add_generation_prompt -%}Assistant:{%- endif -%}";

    public ChatTemplate Template => template;

    /// <summary>
    /// --chat-template FILE, else the model's own template (<paramref name="modelTemplate"/>: the tokenizer's
    /// chat_template.jinja / tokenizer_config.json / GGUF tokenizer.chat_template), else the GGUF's embedded one,
    /// else <see cref="DefaultTemplate"/>; also says which. A checkpoint directory without a template gets the default.
    /// </summary>
    public static (ChatTemplate Template, string Source) Select(string modelPath, string? templateFile, string? modelTemplate = null)
    {
        if (templateFile is not null)
            return (Parse(File.ReadAllText(templateFile), templateFile), templateFile);
        if (modelTemplate is { Length: > 0 })
            return (Parse(modelTemplate, $"{modelPath} (the tokenizer's chat template)"), "the model's chat template");
        if (!Directory.Exists(modelPath) && Paged.Models.ModelLoader.IsGguf(modelPath) && GgufFile.Open(modelPath).GetString("tokenizer.chat_template") is { Length: > 0 } embedded)
            return (Parse(embedded, $"{modelPath} (tokenizer.chat_template)"), "the model's tokenizer.chat_template");
        return (new ChatTemplate(DefaultTemplate), "the default template (User:/Assistant: turns)");
    }

    private static ChatTemplate Parse(string source, string origin)
    {
        try
        {
            return new ChatTemplate(source);
        }
        catch (TemplateException e)
        {
            throw new ArgumentException($"chat template {origin}: {e.Message}", e);
        }
    }

    /// <summary>Renders and encodes; a template error (raise_exception included) is a 400 naming the messages.</summary>
    internal (string Text, List<int> Ids) Build(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<object?>? tools, IReadOnlyDictionary<string, object?>? variables)
    {
        string text;
        try
        {
            text = template.Render(messages, addGenerationPrompt, new ChatTemplateContext
            {
                BosToken = BosText,
                EosToken = EosText,
                Tools = tools,
                Variables = variables,
            });
        }
        catch (TemplateException e)
        {
            throw ApiException.BadRequest($"the chat template rejected the conversation: {e.Message}", "messages");
        }

        return (text, Encode(text));
    }

    public List<int> Encode(string text)
    {
        var ids = new List<int>();
        int pos = 0;
        while (pos < text.Length)
        {
            int bos = text.IndexOf(BosText, pos, StringComparison.Ordinal);
            int eos = text.IndexOf(EosText, pos, StringComparison.Ordinal);
            int next = bos < 0 ? eos : eos < 0 ? bos : Math.Min(bos, eos);
            int end = next < 0 ? text.Length : next;
            if (end > pos)
                ids.AddRange(tokenizer.Encode(text[pos..end], addBos: false));
            if (next < 0)
                break;
            ids.Add(next == bos ? tokenizer.BosId : tokenizer.EosId);
            pos = next + (next == bos ? BosText.Length : EosText.Length);
        }

        return ids;
    }

    /// <summary>One OpenAI message as the template sees it; text-only content parts are joined into a string.</summary>
    internal static ChatMessage Message(JsonElement m, int index)
    {
        string param = $"messages[{index}]";
        if (m.ValueKind != JsonValueKind.Object)
            throw JsonFields.WrongType(param, "an object");
        var f = new JsonFields(m);
        string role = f.String("role") ?? throw ApiException.BadRequest($"'{param}.role' is required", $"{param}.role");
        object? content = null;
        if (f.TryGet("content", out var c))
        {
            content = c.ValueKind switch
            {
                JsonValueKind.String => c.GetString(),
                JsonValueKind.Null => null, // an assistant turn that only calls tools
                JsonValueKind.Array => string.Join("\n", c.EnumerateArray().Select(p => TextPart(p, param))),
                _ => throw JsonFields.WrongType($"{param}.content", "a string or an array of text parts"),
            };
        }

        var fields = new Dictionary<string, object?>();
        foreach (var p in m.EnumerateObject())
        {
            if (p.Name is not "role" and not "content")
                fields[p.Name] = p.Name == "tool_calls" ? Tools.ToolCallMessages.ForTemplate(p.Value, $"{param}.tool_calls") : p.Value;
        }

        return new ChatMessage(role, content, fields);
    }

    private static string TextPart(JsonElement part, string param)
    {
        if (part.ValueKind == JsonValueKind.String)
            return part.GetString()!;
        var f = part.ValueKind == JsonValueKind.Object ? new JsonFields(part) : throw JsonFields.WrongType($"{param}.content", "an array of text parts");
        string type = f.String("type") ?? "text";
        if (type != "text")
            throw ApiException.BadRequest($"content parts of type '{type}' are not supported; only text", $"{param}.content");
        return f.String("text") ?? throw ApiException.BadRequest($"a text part of '{param}.content' has no 'text'", $"{param}.content");
    }
}
