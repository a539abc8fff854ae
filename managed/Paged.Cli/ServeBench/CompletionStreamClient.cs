using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Paged.Cli.ServeBench;

/// <summary>
/// Sends one streaming completion request to an OpenAI-compatible server and times it: time to the
/// first chunk that carries text, the gaps between later chunks, and the end at <c>data: [DONE]</c>.
/// The output token count comes from the final usage chunk (<c>stream_options.include_usage</c>).
/// </summary>
public sealed class CompletionStreamClient(HttpClient http, string endpoint, string model)
{
    /// <summary>
    /// Disaggregated serving without a router: each request's prefill step goes here first ("do_remote_decode",
    /// not streamed), then its decode step (the body plus the returned kv_transfer_params) to the base address.
    /// TTFT then spans both steps and the transfer.
    /// </summary>
    public HttpClient? DisaggregatedPrefill { get; init; }

    public async Task<RequestRecord> SendAsync(ServeRequestSpec spec, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        long start = Stopwatch.GetTimestamp();
        try
        {
            string? kvTransferParams = null;
            if (DisaggregatedPrefill is { } prefill)
            {
                using var prefillContent = new StringContent(RequestBody(spec, """{"do_remote_decode":true}""", stream: false), Encoding.UTF8, "application/json");
                using var prefillResponse = await prefill.PostAsync(endpoint, prefillContent, ct).ConfigureAwait(false);
                string prefillBody = await prefillResponse.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                if (!prefillResponse.IsSuccessStatusCode)
                    return RequestRecord.Failed($"prefill HTTP {(int)prefillResponse.StatusCode}: {Trim(prefillBody)}", spec.PromptTokens, spec.Tenant);
                using var doc = JsonDocument.Parse(prefillBody);
                kvTransferParams = doc.RootElement.TryGetProperty("kv_transfer_params", out var p) ? p.GetRawText() : null;
            }

            using var content = new StringContent(RequestBody(spec, kvTransferParams, stream: true), Encoding.UTF8, "application/json");
            using var message = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = content };
            message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                string body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                return RequestRecord.Failed($"HTTP {(int)response.StatusCode}: {Trim(body)}", spec.PromptTokens, spec.Tenant);
            }

            await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            return await ReadStreamAsync(stream, spec, start, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or TaskCanceledException)
        {
            return RequestRecord.Failed(e is TaskCanceledException ? "timed out" : e.Message, spec.PromptTokens, spec.Tenant);
        }
    }

    /// <summary>Reads the server-sent events of one request; public so that recorded streams can be tested.</summary>
    public static async Task<RequestRecord> ReadStreamAsync(Stream stream, ServeRequestSpec spec, long startTimestamp, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        double? ttft = null;
        double last = 0;
        var itl = new List<double>();
        int? usageTokens = null;
        int chunksWithText = 0;
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is string line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
                continue;
            string data = line[5..].Trim();
            double now = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
            if (data == "[DONE]")
            {
                if (ttft is null)
                    return RequestRecord.Failed("the stream ended without any text", spec.PromptTokens, spec.Tenant);
                return new RequestRecord(true, null, spec.PromptTokens, usageTokens ?? chunksWithText, ttft.Value, now, itl, spec.Tenant);
            }

            using var doc = JsonDocument.Parse(data);
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var error))
                return RequestRecord.Failed($"stream error: {Trim(error.ToString())}", spec.PromptTokens, spec.Tenant);
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
                && usage.TryGetProperty("completion_tokens", out var ct2) && ct2.TryGetInt32(out int n))
                usageTokens = n;
            if (!HasText(root))
                continue;
            chunksWithText++;
            if (ttft is null)
                ttft = now;
            else
                itl.Add(now - last);
            last = now;
        }

        return RequestRecord.Failed("the stream ended before data: [DONE]", spec.PromptTokens, spec.Tenant);
    }

    private static bool HasText(JsonElement root)
    {
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            return false;
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String && text.GetString()!.Length > 0)
                return true;
            if (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var c)
                && c.ValueKind == JsonValueKind.String && c.GetString()!.Length > 0)
                return true;
        }

        return false;
    }

    private string RequestBody(ServeRequestSpec spec, string? kvTransferParams, bool stream)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            if (spec.PromptTokenIds is { } ids)
            {
                w.WriteStartArray("prompt");
                foreach (int id in ids)
                    w.WriteNumberValue(id);
                w.WriteEndArray();
            }
            else
            {
                w.WriteString("prompt", spec.PromptText);
            }

            w.WriteNumber("max_tokens", spec.OutputTokens);
            w.WriteBoolean("ignore_eos", true);
            w.WriteNumber("temperature", 0);
            w.WriteBoolean("stream", stream);
            if (stream)
            {
                w.WriteStartObject("stream_options");
                w.WriteBoolean("include_usage", true);
                w.WriteEndObject();
            }

            if (kvTransferParams is not null)
            {
                w.WritePropertyName("kv_transfer_params");
                w.WriteRawValue(kvTransferParams);
            }

            if (spec.Tenant is not null)
                w.WriteString("user", spec.Tenant);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string Trim(string s) => s.Length <= 200 ? s : s[..200] + "...";
}
