using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI.Chat;

namespace Paged.Server.Tests;

/// <summary>Every error status in OpenAI's shape, and the server keeps serving after each.</summary>
[TestClass]
public sealed class ErrorTests
{
    private static TestServer s_server = null!;

    [ClassInitialize]
    public static async Task Start(TestContext _) =>
        s_server = await TestServer.StartAsync(new ServerOptions { MaxBodyBytes = 64 * 1024, RequestTimeout = TimeSpan.FromSeconds(30) });

    [ClassCleanup]
    public static async Task Stop() => await s_server.DisposeAsync();

    private static void AssertError(int expectedStatus, (int Status, JsonElement Body) response, string? param = null)
    {
        Assert.AreEqual(expectedStatus, response.Status, response.Body.ToString());
        var error = response.Body.GetProperty("error");
        Assert.IsFalse(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.IsFalse(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        if (param is not null)
            Assert.AreEqual(param, error.GetProperty("param").GetString(), response.Body.ToString());
    }

    [TestMethod]
    [DataRow("{\"prompt\": \"hi\", \"max_tokens\": \"ten\"}", "max_tokens")]
    [DataRow("{\"prompt\": \"hi\", \"temperature\": -1}", "temperature")]
    [DataRow("{\"prompt\": \"hi\", \"max_tokens\": 1e999}", "max_tokens")]
    [DataRow("{\"prompt\": \"hi\", \"max_tokens\": 99999999999999999999}", "max_tokens")]
    [DataRow("{\"prompt\": \"hi\", \"n\": 1000}", "n")]
    [DataRow("{\"prompt\": \"hi\", \"max_tokens\": 100000}", "max_tokens")]
    [DataRow("{\"prompt\": 42}", "prompt")]
    [DataRow("{\"prompt\": [99999]}", "prompt")]
    [DataRow("{\"max_tokens\": 3}", "prompt")]
    [DataRow("{\"prompt\": \"hi\", \"stop\": [1, 2]}", "stop")]
    [DataRow("{\"prompt\": \"hi\", \"logit_bias\": {\"abc\": 1}}", "logit_bias")]
    [DataRow("{\"prompt\": \"hi\", \"stream\": \"yes\"}", "stream")]
    [DataRow("{\"prompt\": \"hi\", \"stream_options\": {\"include_usage\": true}}", "stream_options")]
    public async Task WrongTypesAndRangesAre400NamingTheParameter(string body, string param)
    {
        AssertError(400, await s_server.PostRawAsync("v1/completions", Encoding.UTF8.GetBytes(body)), param);
    }

    [TestMethod]
    public async Task MalformedBodiesAre400()
    {
        AssertError(400, await s_server.PostRawAsync("v1/completions", "{\"prompt\": "u8.ToArray()));
        AssertError(400, await s_server.PostRawAsync("v1/completions", [(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}']));
        AssertError(400, await s_server.PostRawAsync("v1/completions", Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000))));
        AssertError(400, await s_server.PostRawAsync("v1/completions", "[1, 2]"u8.ToArray()));
        AssertError(400, await s_server.PostRawAsync("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}"u8.ToArray()), "messages[0].content");
        AssertError(400, await s_server.PostRawAsync("v1/chat/completions", "{\"messages\": []}"u8.ToArray()), "messages");
        await AssertStillServing();
    }

    [TestMethod]
    public async Task PromptLongerThanTheContextIs400()
    {
        string prompt = string.Concat(Enumerable.Repeat("the end of a long story ", 200));
        AssertError(400, await s_server.PostAsync("v1/completions", new { prompt, max_tokens = 4 }), "prompt");
        AssertError(400, await s_server.PostAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = prompt } } }), "messages");
        await AssertStillServing();
    }

    [TestMethod]
    public async Task UnknownModelAndRouteAre404()
    {
        AssertError(404, await s_server.PostAsync("v1/completions", new { model = "gpt-9", prompt = "hi" }), "model");
        var e = await Assert.ThrowsExactlyAsync<ClientResultException>(() =>
            s_server.OpenAI().GetChatClient("gpt-9").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.AreEqual(404, e.Status);
        using var response = await s_server.Http.GetAsync("v1/nothing-here");
        Assert.AreEqual(404, (int)response.StatusCode);
        StringAssert.Contains(await response.Content.ReadAsStringAsync(), "\"error\"");
    }

    [TestMethod]
    public async Task OversizedBodyIs413()
    {
        string prompt = new('x', 100 * 1024);
        AssertError(413, await s_server.PostAsync("v1/completions", new { prompt }));
        await AssertStillServing();
    }

    [TestMethod]
    public async Task TemplateRejectionIs400()
    {
        var (status, body) = await s_server.PostAsync("v1/chat/completions", new { messages = new[] { new { content = "no role" } } });
        AssertError(400, (status, body), "messages[0].role");
    }

    private static async Task AssertStillServing()
    {
        var (status, body) = await s_server.PostAsync("v1/completions", new { prompt = "Still there?", max_tokens = 3 });
        Assert.AreEqual(200, status, body.ToString());
        using var health = await s_server.Http.GetAsync("health");
        Assert.AreEqual(200, (int)health.StatusCode);
    }
}
