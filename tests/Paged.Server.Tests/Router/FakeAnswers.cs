using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Paged.Server.Tests.Router;

/// <summary>Canned answers of the prefill/decode contract, in the shapes OpenAI clients parse.</summary>
internal static class FakeAnswers
{
    public const string ModelsJson = "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\",\"created\":1,\"owned_by\":\"paged\"}]}";

    public const string CompletionJson = "{\"id\":\"cmpl-d\",\"object\":\"text_completion\",\"created\":1,\"model\":\"fake-model\","
        + "\"choices\":[{\"index\":0,\"text\":\" upon a time\",\"logprobs\":null,\"finish_reason\":\"length\"}],"
        + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6}}";

    public const string ChatJson = "{\"id\":\"chatcmpl-d\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"fake-model\","
        + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello there\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}";

    /// <summary>The streamed events of a completion (each "data: ...\n\n"), [DONE] last.</summary>
    public static readonly string[] CompletionEvents =
    [
        "data: {\"id\":\"cmpl-d\",\"object\":\"text_completion\",\"created\":1,\"model\":\"fake-model\",\"choices\":[{\"index\":0,\"text\":\" upon\",\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"cmpl-d\",\"object\":\"text_completion\",\"created\":1,\"model\":\"fake-model\",\"choices\":[{\"index\":0,\"text\":\" a time\",\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n",
        "data: [DONE]\n\n",
    ];

    public static readonly string[] ChatEvents =
    [
        "data: {\"id\":\"chatcmpl-d\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"fake-model\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-d\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"fake-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    ];

    /// <summary>The transfer parameters a prefill instance named <paramref name="id"/> returns (opaque to the router).</summary>
    public static JsonObject KvParams(string id) => new()
    {
        ["do_remote_prefill"] = true,
        ["remote_instance_id"] = id,
        ["remote_request_id"] = "req-" + id,
        ["remote_address"] = "127.0.0.1:50051",
        ["block_ids"] = new JsonArray(3, 7, 9),
        ["num_computed_tokens"] = 40,
        ["first_token_id"] = 312,
        ["lease_expires_unix_ms"] = 1_900_000_000_000,
        ["nested"] = new JsonObject { ["keep"] = new JsonArray("as", "is") },
    };

    public static Task PrefillAsync(HttpContext ctx, JsonObject body, string id)
    {
        bool chat = ctx.Request.Path.Value!.Contains("chat", StringComparison.Ordinal);
        var answer = JsonNode.Parse(chat ? ChatJson : CompletionJson)!.AsObject();
        answer["kv_transfer_params"] = KvParams(id);
        return WriteJsonAsync(ctx, 200, answer.ToJsonString());
    }

    public static async Task DecodeAsync(HttpContext ctx, JsonObject body)
    {
        bool chat = ctx.Request.Path.Value!.Contains("chat", StringComparison.Ordinal);
        if (body["stream"]?.GetValue<bool>() != true)
        {
            await WriteJsonAsync(ctx, 200, chat ? ChatJson : CompletionJson);
            return;
        }

        await StartEventsAsync(ctx);
        foreach (string e in chat ? ChatEvents : CompletionEvents)
            await WriteEventAsync(ctx, e);
    }

    public static async Task StartEventsAsync(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/event-stream; charset=utf-8";
        await ctx.Response.StartAsync();
    }

    public static async Task WriteEventAsync(HttpContext ctx, string e)
    {
        await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(e));
        await ctx.Response.Body.FlushAsync();
    }

    public static Task WriteJsonAsync(HttpContext ctx, int status, string json)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(json);
    }
}
