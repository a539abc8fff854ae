using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Paged.Server.Router;

/// <summary>
/// POST /v1/completions and /v1/chat/completions: prefill on a prefill instance, then decode on a decode
/// instance given the prefill's kv_transfer_params; when no prefill instance can do it, the whole request goes
/// to a colocated (both) instance, else to a decode instance that recomputes the prompt. Each request is
/// answered once: a call that fails before the instance answered moves on to another instance; an answer
/// (any status) is relayed as it is.
/// </summary>
internal sealed class RouteHandler(RouterOptions options, InstancePool pool, UpstreamClient upstream, RouterMetrics metrics)
{
    public Task CompletionsAsync(HttpContext ctx) => HandleAsync(ctx, "v1/completions", chat: false);

    public Task ChatCompletionsAsync(HttpContext ctx) => HandleAsync(ctx, "v1/chat/completions", chat: true);

    private async Task HandleAsync(HttpContext ctx, string path, bool chat)
    {
        var cancel = ctx.RequestAborted;
        var element = await RequestBody.ReadObjectAsync(ctx.Request, options.MaxBodyBytes, cancel).ConfigureAwait(false);
        var body = JsonObject.Create(element)!;

        if (pool.AnyEligible(InstanceRole.Decode))
        {
            var prefill = await PrefillAsync(ctx, path, UpstreamBodies.Prefill(body, chat), cancel).ConfigureAwait(false);
            if (prefill.Answered)
                return;
            if (prefill.KvTransferParams is { } kv
                && await TryForwardAsync(ctx, InstanceRole.Decode, path, UpstreamBodies.Decode(body, kv), RouterMetrics.Disagg, cancel).ConfigureAwait(false))
                return;
        }

        if (await TryForwardAsync(ctx, InstanceRole.Both, path, body, RouterMetrics.FallbackBoth, cancel).ConfigureAwait(false)
            || await TryForwardAsync(ctx, InstanceRole.Decode, path, body, RouterMetrics.FallbackDecodeOnly, cancel).ConfigureAwait(false))
            return;

        throw new ApiException(503, "no decode or colocated instance is reachable; try again later", type: "service_unavailable", code: "no_healthy_instance")
        {
            RetryAfterSeconds = options.RetryAfterSeconds,
        };
    }

    private readonly record struct PrefillResult(bool Answered, JsonObject? KvTransferParams);

    /// <summary>
    /// Prefills on one prefill instance after another until one returns kv_transfer_params. A 4xx is the client's
    /// mistake (it would fail anywhere): relayed, and the request is answered. A refused connection, a timeout, a
    /// 5xx or an answer without kv_transfer_params puts the instance in its cooldown.
    /// </summary>
    private async Task<PrefillResult> PrefillAsync(HttpContext ctx, string path, JsonObject body, CancellationToken cancel)
    {
        var tried = new List<UpstreamInstance>();
        while (pool.Choose(InstanceRole.Prefill, tried) is { } instance)
        {
            tried.Add(instance);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(options.PrefillTimeout);
            string reason;
            try
            {
                using var response = await upstream.PostAsync(instance, path, body, timeout.Token).ConfigureAwait(false);
                int status = (int)response.StatusCode;
                if (status is >= 400 and < 500)
                {
                    await ResponseRelay.RelayWholeAsync(ctx, instance, response, cancel).ConfigureAwait(false);
                    return new PrefillResult(true, null);
                }

                if (status >= 300)
                {
                    reason = "status_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                else
                {
                    var content = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
                    var answer = await JsonNode.ParseAsync(content, cancellationToken: timeout.Token).ConfigureAwait(false);
                    if (answer?[UpstreamBodies.KvTransferParams] is JsonObject kv)
                        return new PrefillResult(false, kv);
                    reason = "no_kv_transfer_params";
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                reason = "timeout";
            }
            catch (Exception e) when (e is HttpRequestException or IOException or JsonException && !cancel.IsCancellationRequested)
            {
                reason = e is JsonException ? "bad_response" : "connect";
            }

            metrics.UpstreamError(instance, reason);
            pool.Failed(instance);
        }

        return new PrefillResult(false, null);
    }

    /// <summary>
    /// Sends the request to an instance of <paramref name="role"/> and relays its answer; an instance that cannot
    /// be reached (nothing was answered yet) is put in its cooldown and the next one is tried. False when none answered.
    /// </summary>
    private async Task<bool> TryForwardAsync(HttpContext ctx, InstanceRole role, string path, JsonObject body, string route, CancellationToken cancel)
    {
        var tried = new List<UpstreamInstance>();
        while (pool.Choose(role, tried) is { } instance)
        {
            tried.Add(instance);
            HttpResponseMessage response;
            try
            {
                response = await upstream.PostAsync(instance, path, body, cancel).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancel.IsCancellationRequested)
            {
                // Refused, reset, or the connect timeout (an OperationCanceledException that is not the client's).
                metrics.UpstreamError(instance, e is HttpRequestException ? "connect" : "timeout");
                pool.Failed(instance);
                continue;
            }

            using (response)
            {
                metrics.Routed(route);
                if ((int)response.StatusCode >= 500)
                    metrics.UpstreamError(instance, "status_" + ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
                await ResponseRelay.RelayAsync(ctx, instance, response, () => metrics.UpstreamError(instance, "stream"), cancel).ConfigureAwait(false);
            }

            return true;
        }

        return false;
    }
}
