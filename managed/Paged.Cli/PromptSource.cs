using System.Text.Json;

namespace Paged.Cli;

/// <summary>Reads prompts from the command line or a prompts file (plain lines or JSONL).</summary>
internal static class PromptSource
{
    public static List<string> Read(GenerateOptions o)
    {
        var prompts = new List<string>(o.Prompts);
        if (o.PromptsFile is not null)
        {
            if (!File.Exists(o.PromptsFile))
                throw new FileNotFoundException($"prompts file not found: {o.PromptsFile}");
            bool jsonl = o.PromptsFile.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
            int lineNo = 0;
            foreach (string line in File.ReadLines(o.PromptsFile))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line))
                    continue;
                prompts.Add(jsonl ? ParseJsonLine(o.PromptsFile, lineNo, line) : line);
            }
        }

        if (prompts.Count == 0)
            throw new ArgumentException("no prompts: give them as arguments or with --prompts-file");
        return prompts;
    }

    private static string ParseJsonLine(string file, int lineNo, string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String)
                return p.GetString()!;
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{file}:{lineNo}: not valid JSON ({e.Message})", e);
        }

        throw new ArgumentException($"{file}:{lineNo}: expected a JSON object with a string \"prompt\" field");
    }
}
