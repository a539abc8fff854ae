using System.Text.Json;

namespace Paged.Models.Tests;

internal sealed record GoldenCase(string Prompt, int[] PromptIds, int[] OutputIds, string Text);

internal static class Golden
{
    public static IReadOnlyList<GoldenCase> Load()
    {
        var cases = new List<GoldenCase>();
        foreach (string line in File.ReadLines(TestPaths.Golden))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            cases.Add(new GoldenCase(
                root.GetProperty("prompt").GetString()!,
                [.. root.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. root.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())],
                root.GetProperty("text").GetString()!));
        }

        return cases;
    }
}
