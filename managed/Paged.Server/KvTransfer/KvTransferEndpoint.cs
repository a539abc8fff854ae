using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Engine.KvTransfer;

namespace Paged.Server.KvTransfer;

/// <summary>
/// The two steps of a disaggregated request on /v1/completions and /v1/chat/completions (vLLM's
/// "kv_transfer_params" convention). Prefill step ("do_remote_decode": true, not streamed): the prompt and
/// first token are computed, the prompt's blocks stay pinned under a lease, and the ordinary response carries
/// the parameters to pull them. Decode step (the original body plus those parameters, "do_remote_prefill":
/// true): the blocks are pulled and verified, the lease acknowledged, and the request continues from the first
/// token (included in the output; usage counts the whole request). A failed pull recomputes the prompt here or
/// fails the request, by <see cref="ServerOptions.KvLoadFailurePolicy"/>.
/// </summary>
internal sealed class KvTransferEndpoint(GenerationRunner runner, ServerOptions options, KvPuller puller, KvTransferMetrics metrics, string instanceId, string? address)
{
    private AsyncEngine Engine => runner.Engine;

    /// <summary>Handles the request when it carries transfer parameters; false for an ordinary request.</summary>
    public async Task<bool> TryHandleAsync(HttpContext ctx, JsonFields body, PreparedCall call)
    {
        if (body.ObjectField(KvRemoteHandle.Field) is not { } p)
            return false;
        if (p.Bool("do_remote_decode", false))
        {
            await PrefillAsync(ctx, call).ConfigureAwait(false);
            return true;
        }

        if (p.Bool("do_remote_prefill", false))
        {
            await DecodeAsync(ctx, KvRemoteHandle.Parse(p), call).ConfigureAwait(false);
            return true;
        }

        return false;
    }

    private async Task PrefillAsync(HttpContext ctx, PreparedCall call)
    {
        if (address is null)
            throw ApiException.BadRequest($"this instance (role {options.Role.ToString().ToLowerInvariant()}) has no KV transfer listener: start it with --role prefill or --kv-transfer-port", KvRemoteHandle.Field);
        if (call.Settings.Stream)
            throw ApiException.BadRequest("a prefill for remote decode is answered in one response: set 'stream' to false", "stream");
        if (call.Requests.Count != 1 || call.Settings.Sampling.N != 1)
            throw ApiException.BadRequest("a prefill for remote decode takes one prompt and n = 1", KvRemoteHandle.Field);

        GenerationRequest[] requests = [call.Requests[0] with { HoldKv = true }];
        var finals = await LocalApi.CollectFinalsAsync(runner.Start(requests, ctx.RequestAborted), 1, ctx.RequestAborted).ConfigureAwait(false);
        var response = call.Shape.Final(finals);
        var connector = Engine.KvConnector;
        if (connector.LeaseOf(finals[0].RequestId) is { } lease && connector.Geometry is { } geometry)
            response[KvRemoteHandle.Field] = KvRemoteHandle.From(lease, geometry, instanceId, address).ToJson();
        await JsonResponses.WriteAsync(ctx.Response, 200, response, ctx.RequestAborted).ConfigureAwait(false);
    }

    private async Task DecodeAsync(HttpContext ctx, KvRemoteHandle handle, PreparedCall call)
    {
        var request = call.Requests[0];
        var import = CanContinue(call, handle) is { } reason
            ? Skip(handle, reason)
            : await PullAsync(handle, ctx.RequestAborted).ConfigureAwait(false);
        IReadOnlyList<GenerationRequest> requests = import is null ? call.Requests : [request with { KvImport = import }];
        await EndpointDriver.RunAsync(ctx, runner, requests, call.Settings, call.Shape).ConfigureAwait(false);
    }

    /// <summary>Null when the received KV can continue this request; else why not (it is then computed here).</summary>
    private static string? CanContinue(PreparedCall call, KvRemoteHandle handle)
    {
        if (call.Requests.Count != 1 || call.Settings.Sampling.N != 1 || call.Settings.Sampling.Logprobs is not null)
            return "unsupported";
        var ids = call.Requests[0].PromptTokenIds;
        return ids is not null && ids.SequenceEqual(handle.PromptTokenIds) ? null : "prompt";
    }

    private KvImport? Skip(KvRemoteHandle handle, string reason)
    {
        metrics.Failed(reason);
        _ = puller.ReleaseAsync(handle);
        return null;
    }

    private async Task<KvImport?> PullAsync(KvRemoteHandle handle, CancellationToken aborted)
    {
        var local = Engine.KvConnector.Geometry ?? throw new ApiException(500, "this engine cannot load transferred KV blocks");
        try
        {
            var import = await puller.PullAsync(handle, local, aborted).ConfigureAwait(false);
            _ = puller.ReleaseAsync(handle); // the bytes are here: the prefill side may unpin now
            return import;
        }
        catch (OperationCanceledException)
        {
            _ = puller.ReleaseAsync(handle); // the client left: nobody will decode this prefill
            throw;
        }
        catch (KvTransferException e)
        {
            metrics.Failed(e.Reason);
            _ = puller.ReleaseAsync(handle);
            if (options.KvLoadFailurePolicy == KvLoadFailurePolicy.Fail)
                throw new ApiException(502, $"KV transfer from {handle.Address} failed: {e.Message}", type: "server_error", code: "kv_transfer_failed");
            return null; // recompute the prompt here
        }
    }

    /// <summary>The instance's part in disaggregated serving, for /health.</summary>
    public static void Describe(System.Text.Json.Nodes.JsonObject health, ServerOptions options, string instanceId, string? address)
    {
        health["instance_id"] = instanceId;
        health["role"] = options.Role.ToString().ToLowerInvariant();
        health["kv_transfer_address"] = address;
    }
}
