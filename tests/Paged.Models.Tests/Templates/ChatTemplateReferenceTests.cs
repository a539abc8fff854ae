using System.Text.Json;
using Paged.Models.Templates;

namespace Paged.Models.Tests.Templates;

/// <summary>
/// Real chat templates (the hf-tiny models' and published ones, see Templates/Data/SOURCES.md) rendered over
/// several conversations must equal, character for character, what Jinja2 renders in transformers'
/// configuration; where Jinja2 fails, the engine must fail too (with the same message for raise_exception).
/// </summary>
[TestClass]
public sealed class ChatTemplateReferenceTests
{
    [TestMethod]
    [DataRow("hf_tiny_llama3.jinja")]
    [DataRow("hf_tiny_mistral.jinja")]
    [DataRow("hf_tiny_qwen2.jinja")]
    [DataRow("hf_tiny_qwen3.jinja")]
    [DataRow("llama31.jinja")]
    [DataRow("mistral_v3_tools.jinja")]
    [DataRow("mistral_small31.jinja")]
    [DataRow("deepseek_r1.jinja")]
    [DataRow("qwen3.jinja")]
    [DataRow("qwen2_5_instruct.jinja")]
    [DataRow("gemma_it.jinja")]
    [DataRow("phi_3.jinja")]
    [DataRow("zephyr.jinja")]
    [DataRow("chatml.jinja")]
    public void RendersAsJinja2Does(string file)
    {
        var template = new ChatTemplate(File.ReadAllText(Path.Combine(TemplateTestData.Dir, file)));
        Dictionary<string, JsonElement> conversations = TemplateTestData.Conversations();
        var failures = new List<string>();
        int rows = 0;
        int rendered = 0;
        foreach (JsonElement row in TemplateTestData.ExpectedRows())
        {
            if (!row.TryGetProperty("template", out JsonElement name) || name.GetString() != file)
            {
                continue;
            }

            rows++;
            rendered += row.TryGetProperty("output", out _) ? 1 : 0;
            JsonElement conversation = conversations[row.GetProperty("conversation").GetString()!];
            var messages = conversation.GetProperty("messages").EnumerateArray().Select(TemplateTestData.Message).ToList();
            bool addGenerationPrompt = row.GetProperty("add_generation_prompt").GetBoolean();
            string? failure = TemplateTestData.Compare(row, () => template.Render(messages, addGenerationPrompt, TemplateTestData.Context(conversation)));
            if (failure is not null)
            {
                failures.Add($"{row.GetProperty("conversation")} (add_generation_prompt={addGenerationPrompt}): {failure}");
            }
        }

        Assert.AreEqual(2 * conversations.Count, rows, "every conversation has a reference row with and without the generation prompt");
        Assert.IsGreaterThanOrEqualTo(6, rendered, "the template renders most conversations");
        Assert.IsEmpty(failures, string.Join("\n\n", failures));
    }

    [TestMethod]
    public void SnippetsRenderAsJinja2Does()
    {
        Dictionary<string, JsonElement> snippets = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplateTestData.Dir, "snippets.json")))
            .RootElement.EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("template"));
        JsonElement variablesJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplateTestData.Dir, "snippet_variables.json"))).RootElement;
        var variables = variablesJson.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        var failures = new List<string>();
        int count = 0;
        foreach (JsonElement row in TemplateTestData.ExpectedRows().Where(r => r.TryGetProperty("snippet", out _)))
        {
            count++;
            string name = row.GetProperty("snippet").GetString()!;
            string? failure = TemplateTestData.Compare(row, () =>
                Template.Parse(snippets[name].GetString()!).Render(variables, new TemplateLimits(), () => TemplateTestData.FixedNow));
            if (failure is not null)
            {
                failures.Add($"{name}: {failure}");
            }
        }

        Assert.AreEqual(snippets.Count, count);
        Assert.IsEmpty(failures, string.Join("\n\n", failures));
    }
}
