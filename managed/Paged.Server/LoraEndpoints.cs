using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Models;

namespace Paged.Server;

/// <summary>
/// POST /v1/load_lora_adapter {lora_name, lora_path} and POST /v1/unload_lora_adapter {lora_name} (vLLM's
/// runtime LoRA endpoints), served only with <see cref="ServerOptions.AllowRuntimeLora"/> (403 otherwise).
/// Unload: the name stops resolving at once (new requests get 404), running requests may finish within
/// <see cref="ServerOptions.LoraUnloadTimeout"/>; those still running then are ended with an error naming the adapter.
/// </summary>
internal sealed class LoraEndpoints(AsyncEngine engine, ServerOptions options)
{
    public async Task LoadAsync(HttpContext ctx)
    {
        var body = await ReadAsync(ctx).ConfigureAwait(false);
        string name = Name(body);
        string path = body.String("lora_path") ?? throw ApiException.BadRequest("'lora_path' (a string) is required", "lora_path");
        if (name == options.ServedModelName)
            throw ApiException.BadRequest($"'{name}' is the base model's name", "lora_name");
        if (!engine.Adapters.Enabled)
            throw ApiException.BadRequest("this server has no LoRA slots: start it with --max-loras N (or --lora)", "lora_name");
        try
        {
            // Reading and checking the files happens here, on the request's thread, never on the engine's.
            var adapter = engine.Adapters.Load(name, path);
            await JsonResponses.WriteAsync(ctx.Response, 200, new JsonObject
            {
                ["lora_name"] = adapter.Name, ["rank"] = adapter.Rank, ["message"] = $"LoRA adapter '{name}' loaded",
            }, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (ModelFormatException e)
        {
            throw ApiException.BadRequest($"the adapter at '{path}' cannot be loaded: {e.Message}", "lora_path");
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest(e.Message, "lora_name");
        }
    }

    public async Task UnloadAsync(HttpContext ctx)
    {
        string name = Name(await ReadAsync(ctx).ConfigureAwait(false));
        int ended = await engine.UnloadAdapterAsync(name, options.LoraUnloadTimeout, ctx.RequestAborted).ConfigureAwait(false);
        if (ended < 0)
            throw new ApiException(404, $"no LoRA adapter named '{name}' is loaded", "lora_name", code: "lora_not_found");
        await JsonResponses.WriteAsync(ctx.Response, 200, new JsonObject
        {
            ["lora_name"] = name, ["ended_requests"] = ended, ["message"] = $"LoRA adapter '{name}' unloaded",
        }, ctx.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>/v1/models entries of the loaded adapters (vLLM's shape: root = the adapter's path, parent = the base).</summary>
    public static IEnumerable<JsonObject> ModelEntries(AsyncEngine engine, ServerOptions options, long created) =>
        engine.Adapters.Adapters.Select(a => new JsonObject
        {
            ["id"] = a.Name,
            ["object"] = "model",
            ["created"] = created,
            ["owned_by"] = "paged",
            ["root"] = a.Path,
            ["parent"] = options.ServedModelName,
            ["max_model_len"] = engine.MaxContext,
        });

    private async Task<JsonFields> ReadAsync(HttpContext ctx)
    {
        if (!options.AllowRuntimeLora)
            throw new ApiException(403, "runtime LoRA loading is off: start the server with --allow-runtime-lora", code: "forbidden");
        return new JsonFields(await RequestBody.ReadObjectAsync(ctx.Request, options.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false));
    }

    private static string Name(JsonFields body) =>
        body.String("lora_name") is { Length: > 0 } n ? n : throw ApiException.BadRequest("'lora_name' (a non-empty string) is required", "lora_name");
}
