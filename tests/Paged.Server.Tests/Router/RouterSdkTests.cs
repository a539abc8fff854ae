using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace Paged.Server.Tests.Router;

/// <summary>The official OpenAI .NET SDK as the client of a router over fake instances.</summary>
[TestClass]
public sealed class RouterSdkTests
{
    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task TheSdkChatsThroughTheRouterStreamingAndNot()
    {
        var prefill = await FakeInstance.PrefillAsync();
        var decode = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([prefill], [decode], options: new() { ApiKey = "sk-sdk" });
        var client = new OpenAIClient(new ApiKeyCredential("sk-sdk"), new OpenAIClientOptions { Endpoint = new Uri(h.BaseAddress, "v1") }).GetChatClient("fake-model");

        var completion = (await client.CompleteChatAsync([new UserChatMessage("Hi")], new ChatCompletionOptions { MaxOutputTokenCount = 4 })).Value;
        Assert.AreEqual("Hello there", completion.Content[0].Text);
        Assert.AreEqual(ChatFinishReason.Stop, completion.FinishReason);

        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Hi")], new ChatCompletionOptions { MaxOutputTokenCount = 4 }))
        {
            foreach (var part in update.ContentUpdate)
                text.Append(part.Text);
            finish ??= update.FinishReason;
        }

        Assert.AreEqual("Hello there", text.ToString());
        Assert.AreEqual(ChatFinishReason.Stop, finish);
        Assert.AreEqual(2, prefill.Calls.Count);
        Assert.AreEqual(2, decode.Calls.Count);
        Assert.IsTrue(decode.Calls.All(c => c.Body.ContainsKey("kv_transfer_params")));
        Assert.AreEqual(4, decode.Calls.Last().Body["max_completion_tokens"]!.GetValue<int>(), "the decode gets the client's own limits");
        Assert.AreEqual(1, prefill.Calls.Last().Body["max_completion_tokens"]!.GetValue<int>());
    }
}
