using System.Text.Json;
using Paged.Engine;

namespace Paged.Cli;

/// <summary>One prompt and its per-prompt settings (from a JSONL prompts file; null = the command-line value).</summary>
internal sealed record PromptSpec(string Prompt, int? N = null, int Priority = 0, string Tenant = "", int[]? Ids = null, int? PromptLogprobs = null)
{
    /// <summary>The --lora adapter the line picks ("lora": "NAME"), or null for the base model.</summary>
    public string? Lora { get; init; }

    public RequestAttributes Attributes => new() { Priority = Priority, Tenant = Tenant };
}

/// <summary>Reads prompts from the command line or a prompts file (plain lines or JSONL).</summary>
internal static class PromptSource
{
    public static List<PromptSpec> Read(GenerateOptions o)
    {
        var prompts = o.Prompts.Select(p => new PromptSpec(p)).ToList();
        prompts.AddRange(o.PromptIds.Select(p => new PromptSpec("", Ids: ParseIds(p, "--prompt-ids"))));
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

    /// <summary>"1,2,3" as token ids.</summary>
    private static int[] ParseIds(string text, string what)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out ids[i]))
                throw new ArgumentException($"{what}: '{parts[i]}' is not a token id (expected comma-separated integers)");
        }

        return ids.Length > 0 ? ids : throw new ArgumentException($"{what}: no token ids in '{text}'");
    }

    private static PromptSpec ParseJsonLine(string file, int lineNo, string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            int[]? ids = null;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("prompt_ids", out var idsValue))
            {
                ids = idsValue.ValueKind == JsonValueKind.Array
                    ? [.. idsValue.EnumerateArray().Select(e => Int(e, "prompt_ids"))]
                    : throw new ArgumentException($"{file}:{lineNo}: \"prompt_ids\" must be an array of integers");
            }

            var p = default(JsonElement);
            if (root.ValueKind == JsonValueKind.Object
                && (ids is not null || (root.TryGetProperty("prompt", out p) && p.ValueKind == JsonValueKind.String)))
            {
                int? n = root.TryGetProperty("n", out var nv) ? Int(nv, "n") : null;
                int priority = root.TryGetProperty("priority", out var pv) ? Int(pv, "priority") : 0;
                string tenant = "";
                if (root.TryGetProperty("tenant", out var tv))
                {
                    tenant = tv.ValueKind == JsonValueKind.String ? tv.GetString()!
                        : throw new ArgumentException($"{file}:{lineNo}: \"tenant\" must be a string");
                }

                int? promptLogprobs = root.TryGetProperty("prompt_logprobs", out var plv) && plv.ValueKind != JsonValueKind.Null ? Int(plv, "prompt_logprobs") : null;
                string? lora = null;
                if (root.TryGetProperty("lora", out var lv) && lv.ValueKind != JsonValueKind.Null)
                {
                    lora = lv.ValueKind == JsonValueKind.String ? lv.GetString()!
                        : throw new ArgumentException($"{file}:{lineNo}: \"lora\" must be a string (an adapter NAME given with --lora)");
                }

                return new PromptSpec(ids is null ? p.GetString()! : "", n, priority, tenant, ids, promptLogprobs) { Lora = lora };
            }
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{file}:{lineNo}: not valid JSON ({e.Message})", e);
        }

        throw new ArgumentException($"{file}:{lineNo}: expected a JSON object with a string \"prompt\" field or a \"prompt_ids\" array");

        int Int(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v
            : throw new ArgumentException($"{file}:{lineNo}: \"{name}\" must be an integer");
    }
}
