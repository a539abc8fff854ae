using System.Text.Json;
using Paged.Models.Templates;

namespace Paged.Server.Tests;

/// <summary>
/// A conversation with tools, an assistant tool call and a tool result, sent the OpenAI way (arguments as a JSON
/// string), renders through the server's message reading exactly as Jinja2 renders the same conversation with the
/// arguments as a dict (the reference rows of tests/Paged.Models.Tests/Templates/Data/expected.jsonl, made by
/// transformers' Jinja2 configuration; see SOURCES.md there).
/// </summary>
[TestClass]
public sealed class ToolTemplateTests
{
    private static string TemplateData => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Paged.Models.Tests", "Templates", "Data"));

    [TestMethod]
    [DataRow("qwen2_5_instruct.jinja")]
    [DataRow("llama31.jinja")]
    [DataRow("mistral_v3_tools.jinja")]
    public void OpenAIToolTurnsRenderAsJinja2WithDictArguments(string file)
    {
        var conversation = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplateData, "conversations.json"))).RootElement
            .EnumerateArray().Single(c => c.GetProperty("name").GetString() == "tools_call");
        // The same conversation as an OpenAI client sends it: function.arguments is a JSON string.
        var openAi = System.Text.Json.Nodes.JsonNode.Parse(conversation.GetRawText())!;
        foreach (var m in openAi["messages"]!.AsArray())
        {
            foreach (var call in m!["tool_calls"]?.AsArray() ?? [])
                call!["function"]!["arguments"] = call["function"]!["arguments"]!.ToJsonString();
        }

        var messages = JsonDocument.Parse(openAi["messages"]!.ToJsonString()).RootElement.EnumerateArray().Select(ChatPrompt.Message).ToList();
        Assert.IsTrue(messages.Any(m => m.Role == "tool"));
        var template = new ChatTemplate(File.ReadAllText(Path.Combine(TemplateData, file)));
        foreach (bool addGenerationPrompt in new[] { false, true })
        {
            var expected = File.ReadLines(Path.Combine(TemplateData, "expected.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
                .Single(r => r.TryGetProperty("template", out var t) && t.GetString() == file && r.GetProperty("conversation").GetString() == "tools_call"
                             && r.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt)
                .GetProperty("output").GetString();
            string actual = template.Render(messages, addGenerationPrompt, new ChatTemplateContext
            {
                BosToken = "<|bos|>",
                EosToken = "<|eos|>",
                Now = () => new DateTime(2024, 7, 26, 9, 5, 3),
                Tools = [.. conversation.GetProperty("tools").EnumerateArray().Select(t => (object?)t)],
            });
            Assert.AreEqual(expected, actual, $"{file}, add_generation_prompt={addGenerationPrompt}");
        }
    }
}
