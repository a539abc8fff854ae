using System.Text.Json;

namespace Paged.Models.Tests;

/// <summary>One row of ../shared/golden/hf_tiny_reference.jsonl (transformers' greedy output on an hf-tiny model).</summary>
internal sealed record HfReferenceRow(string Model, string Kind, int[] PromptIds, int[] OutputIds, double[] Margins, (int Id, double Logprob)[][] TopLogprobs)
{
    /// <summary>How many leading output ids must match: up to the first near-tie (margin below 1e-3), where fp32
    /// summation order may legitimately pick the other token.</summary>
    public int TrustedPrefix
    {
        get
        {
            int i = Array.FindIndex(Margins, m => m < 1e-3);
            return i < 0 ? OutputIds.Length : i;
        }
    }

    /// <param name="lora">Rows of this adapter ("lora-a", "lora-b"); null: the base model's rows.</param>
    public static List<HfReferenceRow> Load(string? model = null, string? lora = null)
    {
        var rows = new List<HfReferenceRow>();
        foreach (string line in File.ReadLines(Path.Combine(TestPaths.Shared, "golden", "hf_tiny_reference.jsonl")))
        {
            if (string.IsNullOrWhiteSpace(line))
                continue;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            var rowLora = r.GetProperty("lora");
            if (lora is null ? rowLora.ValueKind != JsonValueKind.Null : rowLora.ValueKind != JsonValueKind.String || rowLora.GetString() != lora)
                continue;
            string name = r.GetProperty("model").GetString()!;
            if (model is not null && name != model)
                continue;
            rows.Add(new HfReferenceRow(
                name,
                r.GetProperty("kind").GetString()!,
                [.. r.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. r.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. r.GetProperty("top2_logit_margins").EnumerateArray().Select(e => e.GetDouble())],
                [.. r.GetProperty("first_steps_top5_logprobs").EnumerateArray().Select(step =>
                    step.EnumerateArray().Select(p => (p[0].GetInt32(), p[1].GetDouble())).ToArray())]));
        }

        return rows;
    }
}
