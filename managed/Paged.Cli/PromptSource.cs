using System.Text.Json;
using Paged.Engine;

namespace Paged.Cli;

/// <summary>One prompt and its per-prompt settings (from a JSONL prompts file; null = the command-line value).</summary>
internal sealed record PromptSpec(string Prompt, int? N = null, int Priority = 0, string Tenant = "")
{
    public RequestAttributes Attributes => new() { Priority = Priority, Tenant = Tenant };
}

/// <summary>Reads prompts from the command line or a prompts file (plain lines or JSONL).</summary>
internal static class PromptSource
{
    public static List<PromptSpec> Read(GenerateOptions o)
    {
        var prompts = o.Prompts.Select(p => new PromptSpec(p)).ToList();
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
                prompts.Add(jsonl ? ParseJsonLine(o.PromptsFile, lineNo, line) : new PromptSpec(line));
            }
        }

        if (prompts.Count == 0)
            throw new ArgumentException("no prompts: give them as arguments or with --prompts-file");
        return prompts;
    }

    private static PromptSpec ParseJsonLine(string file, int lineNo, string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String)
            {
                int? n = root.TryGetProperty("n", out var nv) ? Int(nv, "n") : null;
                int priority = root.TryGetProperty("priority", out var pv) ? Int(pv, "priority") : 0;
                string tenant = "";
                if (root.TryGetProperty("tenant", out var tv))
                {
                    tenant = tv.ValueKind == JsonValueKind.String ? tv.GetString()!
                        : throw new ArgumentException($"{file}:{lineNo}: \"tenant\" must be a string");
                }

                return new PromptSpec(p.GetString()!, n, priority, tenant);
            }
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{file}:{lineNo}: not valid JSON ({e.Message})", e);
        }

        throw new ArgumentException($"{file}:{lineNo}: expected a JSON object with a string \"prompt\" field");

        int Int(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v
            : throw new ArgumentException($"{file}:{lineNo}: \"{name}\" must be an integer");
    }
}
