using System.Text.Json;

namespace Paged.Cli;

/// <summary>One line of a rollout prompts file: the prompt (text or token ids) and the reference answer, if any.</summary>
internal sealed record RolloutPrompt(string Prompt, int[]? Ids, string? Answer)
{
    /// <summary>Reads every non-blank line; a bad line is an <see cref="ArgumentException"/> naming file and line.</summary>
    public static List<RolloutPrompt> Read(string path, bool needsAnswer)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"prompts file not found: {path}", path);
        var list = new List<RolloutPrompt>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            var prompt = Parse(line, $"{path}:{lineNo}");
            if (needsAnswer && prompt.Answer is null)
                throw new ArgumentException($"{path}:{lineNo}: the reward rule compares with \"answer\", which this line lacks");
            list.Add(prompt);
        }

        return list.Count > 0 ? list : throw new ArgumentException($"{path}: no prompts");
    }

    private static RolloutPrompt Parse(string line, string where)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{where}: not valid JSON ({e.Message})", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ArgumentException($"{where}: expected a JSON object");
            string? Text(string name) => !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
                : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new ArgumentException($"{where}: \"{name}\" must be a string");
            int[]? ids = null;
            if (root.TryGetProperty("prompt_ids", out var idsValue))
            {
                ids = idsValue.ValueKind == JsonValueKind.Array && idsValue.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _))
                    ? [.. idsValue.EnumerateArray().Select(e => e.GetInt32())]
                    : throw new ArgumentException($"{where}: \"prompt_ids\" must be an array of integers");
            }

            string? prompt = Text("prompt");
            if (prompt is null && ids is null)
                throw new ArgumentException($"{where}: expected a string \"prompt\" or a \"prompt_ids\" array");
            return new RolloutPrompt(prompt ?? "", ids, Text("answer"));
        }
    }
}
