using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Models;

namespace Paged.Server;

/// <summary>
/// The RL trainer's side door: POST /v1/update_weights {"path": "x.safetensors"} replaces the tensors the file holds
/// (any subset of the model's; the others keep their values; a bad one is a 400 and nothing changes) between two engine
/// steps (only when the server was started with weight updates allowed: anyone who can call it changes
/// what the model says) and answers the new weight version; POST /v1/reset_prefix_cache drops the prefix cache.
/// Every response of the completion endpoints carries "weight_version", so a trainer drops stale rollouts.
/// </summary>
internal sealed class WeightEndpoints(AsyncEngine engine, ServerOptions options)
{
    public async Task UpdateWeightsAsync(HttpContext ctx)
    {
        if (!options.AllowWeightUpdates)
            throw new ApiException(403, "weight updates are disabled: start the server with --allow-weight-updates", code: "weight_updates_disabled");
        var body = new JsonFields(await RequestBody.ReadObjectAsync(ctx.Request, options.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false));
        string path = body.String("path") ?? throw ApiException.BadRequest("'path' (a safetensors file on the server's machine) is required", "path");
        int version;
        try
        {
            version = await engine.UpdateWeightsAsync(path, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ModelFormatException or IOException or ArgumentException or NotSupportedException)
        {
            throw ApiException.BadRequest($"the weights were not updated: {e.Message}", "path");
        }

        await JsonResponses.WriteAsync(ctx.Response, 200, new JsonObject { ["weight_version"] = version }, ctx.RequestAborted).ConfigureAwait(false);
    }

    public async Task ResetPrefixCacheAsync(HttpContext ctx)
    {
        await engine.ResetPrefixCacheAsync(ctx.RequestAborted).ConfigureAwait(false);
        await JsonResponses.WriteAsync(ctx.Response, 200, new JsonObject { ["weight_version"] = engine.WeightVersion }, ctx.RequestAborted).ConfigureAwait(false);
    }
}
