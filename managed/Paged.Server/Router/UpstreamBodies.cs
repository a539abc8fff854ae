using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paged.Server.Router;

/// <summary>The two request bodies of a disaggregated request, built from the client's (vLLM's kv_transfer_params convention).</summary>
internal static class UpstreamBodies
{
    public const string KvTransferParams = "kv_transfer_params";

    /// <summary>
    /// The prefill call: the client's body, not streamed, one token, asking the instance to keep the prompt's blocks
    /// for a remote decode. stream_options goes (it is refused without streaming) and min_tokens is capped at 1
    /// (more is refused with one token; 1 still masks end-of-sequence for the first token, as the decode side will).
    /// </summary>
    public static JsonObject Prefill(JsonObject client, bool chat)
    {
        var body = (JsonObject)client.DeepClone();
        body["stream"] = false;
        body.Remove("stream_options");
        body["max_tokens"] = 1;
        if (chat && body.ContainsKey("max_completion_tokens"))
            body["max_completion_tokens"] = 1;
        if (body["min_tokens"] is JsonValue min && min.GetValueKind() == JsonValueKind.Number && min.TryGetValue(out double m) && m > 1)
            body["min_tokens"] = 1;
        body[KvTransferParams] = new JsonObject { ["do_remote_decode"] = true };
        return body;
    }

    /// <summary>The decode call: the client's body as sent, plus the prefill instance's transfer parameters, untouched.</summary>
    public static JsonObject Decode(JsonObject client, JsonObject kvTransferParams)
    {
        var body = (JsonObject)client.DeepClone();
        body[KvTransferParams] = kvTransferParams.DeepClone();
        return body;
    }
}
