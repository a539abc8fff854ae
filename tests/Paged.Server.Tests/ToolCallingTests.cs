using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;
using Paged.Models;
using Paged.Models.Tokenization;
using Paged.Server.Tools;

namespace Paged.Server.Tests;

/// <summary>
/// Tool calling through the official OpenAI .NET SDK against servers whose "model" writes a scripted text (the real
/// stories260K forward pass runs; its sampled tokens are replaced by the script's).
/// </summary>
[TestClass]
public sealed class ToolCallingTests
{
    private const string HermesOutput = "I will look.<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>\n"
        + "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"tz\": \"CET\"}}</tool_call>";

    private static readonly ChatTool[] Tools =
    [
        ChatTool.CreateFunctionTool("get_weather", "Weather in a city.", BinaryData.FromString("{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}")),
        ChatTool.CreateFunctionTool("get_time", "Time in a zone.", BinaryData.FromString("{\"type\": \"object\", \"properties\": {\"tz\": {\"type\": \"string\"}}}")),
    ];

    private static async Task<TestServer> StartAsync(ToolCallFormat format, string output)
    {
        var weights = ModelLoader.Load(TestServer.ModelPath);
        ITokenizer tokenizer = TokenizerLoader.Load(TestServer.ModelPath, null, weights.Config);
        var script = tokenizer.Encode(output, addBos: false);
        Assert.AreEqual(output, tokenizer.Decode(script).TrimStart(), "the script must spell the output exactly in this vocabulary");
        return await TestServer.StartAsync(new ServerOptions { ToolCallParser = format }, wrapExecutor: inner => new ScriptedExecutor(inner, script, tokenizer.EosId));
    }

    private static ChatCompletionOptions Options(ChatToolChoice? choice = null)
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 400, Temperature = 0, ToolChoice = choice };
        foreach (var tool in Tools)
            options.Tools.Add(tool);
        return options;
    }

    private static ChatMessage[] Ask() => [new UserChatMessage("Weather and time in Paris?")];

    [TestMethod]
    public async Task HermesCallsNonStreamingAndStreamingAgree()
    {
        await using var server = await StartAsync(ToolCallFormat.Hermes, HermesOutput);
        ChatCompletion c = (await server.Chat().CompleteChatAsync(Ask(), Options())).Value;
        Assert.AreEqual(ChatFinishReason.ToolCalls, c.FinishReason);
        Assert.AreEqual("I will look.", c.Content.Single().Text.TrimStart());
        Assert.HasCount(2, c.ToolCalls);
        Assert.AreEqual("get_weather", c.ToolCalls[0].FunctionName);
        Assert.AreEqual("{\"city\": \"Paris\"}", c.ToolCalls[0].FunctionArguments.ToString());
        Assert.AreEqual("get_time", c.ToolCalls[1].FunctionName);
        Assert.AreEqual("{\"tz\": \"CET\"}", c.ToolCalls[1].FunctionArguments.ToString());
        Assert.AreNotEqual(c.ToolCalls[0].Id, c.ToolCalls[1].Id);
        StringAssert.StartsWith(c.ToolCalls[0].Id, "call_");

        var streamed = await StreamAsync(server, Options());
        Assert.AreEqual(ChatFinishReason.ToolCalls, streamed.Finish);
        Assert.AreEqual(c.Content.Single().Text, streamed.Content);
        CollectionAssert.AreEqual(c.ToolCalls.Select(t => t.FunctionName).ToList(), streamed.Calls.Select(t => t.Name).ToList());
        CollectionAssert.AreEqual(c.ToolCalls.Select(t => t.FunctionArguments.ToString()).ToList(), streamed.Calls.Select(t => t.Arguments).ToList());
        Assert.IsTrue(streamed.Calls.All(t => t.Id.StartsWith("call_", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task Llama3JsonCallsAndANamedChoice()
    {
        await using var server = await StartAsync(ToolCallFormat.Llama3Json, "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}");
        var options = Options(ChatToolChoice.CreateFunctionChoice("get_time"));
        ChatCompletion c = (await server.Chat().CompleteChatAsync(Ask(), options)).Value;
        Assert.AreEqual(ChatFinishReason.ToolCalls, c.FinishReason);
        Assert.IsEmpty(c.Content);
        Assert.AreEqual("get_time", c.ToolCalls.Single().FunctionName);
        Assert.AreEqual("{\"tz\": \"UTC\"}", c.ToolCalls[0].FunctionArguments.ToString());

        var streamed = await StreamAsync(server, Options(ChatToolChoice.CreateRequiredChoice()));
        Assert.AreEqual(ChatFinishReason.ToolCalls, streamed.Finish);
        Assert.AreEqual("", streamed.Content);
        Assert.AreEqual("get_time", streamed.Calls.Single().Name);
        Assert.AreEqual("{\"tz\": \"UTC\"}", streamed.Calls[0].Arguments);
    }

    [TestMethod]
    public async Task InvalidCallsAndToolChoiceNoneGiveTheTextAsContent()
    {
        const string Broken = "Try <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": </tool_call>";
        await using var server = await StartAsync(ToolCallFormat.Hermes, Broken);
        foreach (var choice in new[] { ChatToolChoice.CreateAutoChoice(), ChatToolChoice.CreateNoneChoice() })
        {
            ChatCompletion c = (await server.Chat().CompleteChatAsync(Ask(), Options(choice))).Value;
            Assert.AreEqual(ChatFinishReason.Stop, c.FinishReason);
            Assert.IsEmpty(c.ToolCalls);
            Assert.AreEqual(Broken, c.Content.Single().Text.TrimStart());
            var streamed = await StreamAsync(server, Options(choice));
            Assert.AreEqual(ChatFinishReason.Stop, streamed.Finish);
            Assert.AreEqual(c.Content.Single().Text, streamed.Content);
            Assert.IsEmpty(streamed.Calls);
        }
    }

    /// <summary>The raw stream: a call arrives as a header delta (index, id, type, name, empty arguments), then its arguments.</summary>
    [TestMethod]
    public async Task StreamedToolCallDeltasHaveOpenAIsShape()
    {
        await using var server = await StartAsync(ToolCallFormat.Hermes, HermesOutput);
        var events = await server.StreamAsync("v1/chat/completions", new
        {
            model = TestServer.ModelName,
            messages = new[] { new { role = "user", content = "hi" } },
            tools = Tools.Select(t => new { type = "function", function = new { name = t.FunctionName } }),
            stream = true,
        });
        Assert.AreEqual("[DONE]", events[^1]);
        var deltas = events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0]).ToList();
        var toolDeltas = deltas.Where(d => d.GetProperty("delta").TryGetProperty("tool_calls", out _)).Select(d => d.GetProperty("delta").GetProperty("tool_calls")[0]).ToList();
        Assert.HasCount(4, toolDeltas);
        for (int i = 0; i < 2; i++)
        {
            var header = toolDeltas[2 * i];
            Assert.AreEqual(i, header.GetProperty("index").GetInt32());
            Assert.AreEqual("function", header.GetProperty("type").GetString());
            Assert.AreEqual("", header.GetProperty("function").GetProperty("arguments").GetString());
            var args = toolDeltas[(2 * i) + 1];
            Assert.AreEqual(i, args.GetProperty("index").GetInt32());
            Assert.IsFalse(args.TryGetProperty("id", out _));
        }

        Assert.AreEqual("tool_calls", deltas[^1].GetProperty("finish_reason").GetString());
        Assert.AreEqual(1, deltas.Count(d => d.GetProperty("finish_reason").ValueKind != JsonValueKind.Null));
        Assert.IsFalse(events.Any(e => e.Contains("<tool_call>", StringComparison.Ordinal)), "no part of a call leaks as content");
    }

    [TestMethod]
    public async Task BadToolRequestsAre400AndToolTurnsAreAccepted()
    {
        await using var server = await StartAsync(ToolCallFormat.None, "plain answer");
        var user = new { role = "user", content = "hi" };
        var tools = new[] { new { type = "function", function = new { name = "f" } } };
        async Task Expect400(object body, string param)
        {
            var (status, error) = await server.PostAsync("v1/chat/completions", body);
            Assert.AreEqual(400, status, error.ToString());
            Assert.AreEqual(param, error.GetProperty("error").GetProperty("param").GetString(), error.ToString());
        }

        await Expect400(new { messages = new[] { user }, tools }, "tool_choice"); // auto needs --tool-call-parser
        await Expect400(new { messages = new[] { user }, tools = "f" }, "tools");
        await Expect400(new { messages = new[] { user }, tools = new[] { new { type = "function" } } }, "tools[0].function");
        await Expect400(new { messages = new[] { user }, tool_choice = "required" }, "tool_choice");
        await Expect400(new { messages = new[] { user }, tools, tool_choice = "sometimes" }, "tool_choice");
        await Expect400(new { messages = new[] { user }, tools, tool_choice = new { type = "function", function = new { name = "g" } } }, "tool_choice");
        await Expect400(new { messages = new object[] { user, new { role = "assistant", content = (string?)null, tool_calls = "x" } } }, "messages[1].tool_calls");

        // tool_choice none with tools, and a conversation with a call and its result, through the SDK.
        ChatMessage[] conversation =
        [
            new UserChatMessage("Weather?"),
            new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall("call_1", "get_weather", BinaryData.FromString("{\"city\": \"Paris\"}"))]),
            new ToolChatMessage("call_1", "{\"temp\": 21}"),
        ];
        ChatCompletion c = (await server.Chat().CompleteChatAsync(conversation, Options(ChatToolChoice.CreateNoneChoice()))).Value;
        Assert.AreEqual("plain answer", c.Content.Single().Text.TrimStart());
        Assert.AreEqual(ChatFinishReason.Stop, c.FinishReason);
        var e = await Assert.ThrowsExactlyAsync<ClientResultException>(() => server.Chat().CompleteChatAsync(conversation, Options()));
        Assert.AreEqual(400, e.Status);
    }

    private static async Task<(string Content, List<(string Id, string Name, string Arguments)> Calls, ChatFinishReason? Finish)> StreamAsync(TestServer server, ChatCompletionOptions options)
    {
        var content = new StringBuilder();
        var calls = new SortedDictionary<int, (string Id, string Name, StringBuilder Arguments)>();
        ChatFinishReason? finish = null;
        await foreach (var update in server.Chat().CompleteChatStreamingAsync(Ask(), options))
        {
            foreach (var part in update.ContentUpdate)
                content.Append(part.Text);
            foreach (var t in update.ToolCallUpdates)
            {
                if (!calls.TryGetValue(t.Index, out var call))
                    calls[t.Index] = call = (t.ToolCallId, t.FunctionName, new StringBuilder());
                call.Arguments.Append(t.FunctionArgumentsUpdate?.ToString());
            }

            finish ??= update.FinishReason;
        }

        return (content.ToString(), calls.Values.Select(c => (c.Id, c.Name, c.Arguments.ToString())).ToList(), finish);
    }
}
