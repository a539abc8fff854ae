using System.Text.Json;

namespace Paged.Models.Tests;

/// <summary>One row of ../shared/golden/hf_tiny_reference.jsonl (transformers 5.17 / tokenizers 0.23.2).</summary>
internal sealed record HfGoldenRow(string Model, string? Lora, string Kind, JsonElement Prompt, int[] PromptIds, int[] OutputIds, string OutputText)
{
    public string ModelDir => Path.Combine(TestPaths.HfTiny, Model);

    public override string ToString() => $"{Model}/{Lora ?? "base"}/{Kind}: {Prompt}";

    public static IReadOnlyList<HfGoldenRow> Load()
    {
        var rows = new List<HfGoldenRow>();
        foreach (string line in File.ReadLines(Path.Combine(TestPaths.Shared, "golden", "hf_tiny_reference.jsonl")))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            rows.Add(new HfGoldenRow(
                r.GetProperty("model").GetString()!,
                r.GetProperty("lora").GetString(),
                r.GetProperty("kind").GetString()!,
                r.GetProperty("prompt").Clone(),
                [.. r.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. r.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())],
                r.GetProperty("output_text").GetString()!));
        }

        return rows;
    }
}
