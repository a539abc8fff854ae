using System.Text.Json;
using static Paged.Models.Tokenization.HfJson;

namespace Paged.Models.Tokenization;

/// <summary>
/// Reads tokenizer_config.json (bos/eos/pad tokens, add_bos_token, add_eos_token, chat_template) and
/// chat_template.jinja, which takes precedence over a template inside the config (the layout transformers 5 writes).
/// </summary>
internal static class HfTokenizerConfig
{
    public const string ConfigFile = "tokenizer_config.json";
    public const string TemplateFile = "chat_template.jinja";

    public static SpecialTokenSettings Read(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile);
        var settings = new SpecialTokenSettings();
        if (File.Exists(configPath))
        {
            using var doc = Parse(configPath);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw ModelFormatException.For(configPath, $"the top level should be an object but is {root.ValueKind}");
            }

            settings = new SpecialTokenSettings
            {
                BosToken = TokenText(configPath, root, "bos_token"),
                EosToken = TokenText(configPath, root, "eos_token"),
                PadToken = TokenText(configPath, root, "pad_token"),
                AddBos = Bool(configPath, root, "add_bos_token", ConfigFile),
                AddEos = Bool(configPath, root, "add_eos_token", ConfigFile),
                ChatTemplate = Template(configPath, Optional(root, "chat_template")),
            };
        }

        string templatePath = Path.Combine(directory, TemplateFile);
        return File.Exists(templatePath) ? settings with { ChatTemplate = File.ReadAllText(templatePath) } : settings;
    }

    /// <summary>A special token is written as a string or as an AddedToken object with "content".</summary>
    private static string? TokenText(string path, JsonElement root, string name) => Optional(root, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        { ValueKind: JsonValueKind.Object } v => RequiredString(path, v, "content", name),
        var v => throw ModelFormatException.For(path, $"{name} should be a string or an object with \"content\" but is {v.Value.ValueKind}"),
    };

    /// <summary>chat_template is a string, or a list of {name, template} of which "default" (else the first) is used.</summary>
    private static string? Template(string path, JsonElement? value)
    {
        if (value is not { } v || v.ValueKind == JsonValueKind.String)
        {
            return value?.GetString();
        }

        var named = Array(path, v, "chat_template")
            .Select((t, i) => (Name: String(path, t, "name", $"chat_template[{i}]"), Text: RequiredString(path, t, "template", $"chat_template[{i}]")))
            .ToList();
        return named.Count == 0 ? null : named.FirstOrDefault(t => t.Name == "default", named[0]).Text;
    }
}
