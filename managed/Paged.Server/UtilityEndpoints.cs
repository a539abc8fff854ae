using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Prometheus;

namespace Paged.Server;

/// <summary>GET /v1/models, GET /health, POST /tokenize, POST /detokenize, GET /metrics.</summary>
internal sealed class UtilityEndpoints(AsyncEngine engine, ChatPrompt chat, ServerOptions options, ServerMetrics metrics, Action<JsonObject>? describeInstance = null)
{
    private readonly long _created = ResponseParts.Created();

    public Task ModelsAsync(HttpContext ctx)
    {
        var data = new JsonArray(new JsonObject
        {
            ["id"] = options.ServedModelName,
            ["object"] = "model",
            ["created"] = _created,
            ["owned_by"] = "paged",
            ["root"] = options.ServedModelName,
            ["max_model_len"] = engine.MaxContext,
        });
        foreach (var entry in LoraEndpoints.ModelEntries(engine, options, _created))
            data.Add(entry);
        return JsonResponses.WriteAsync(ctx.Response, 200, new JsonObject { ["object"] = "list", ["data"] = data }, ctx.RequestAborted);
    }

    /// <summary>200 while the engine runs, else 503; the body names the instance (id, disaggregation role).</summary>
    public Task HealthAsync(HttpContext ctx)
    {
        var body = new JsonObject { ["status"] = engine.IsAlive ? "ok" : "unavailable" };
        describeInstance?.Invoke(body);
        return JsonResponses.WriteAsync(ctx.Response, engine.IsAlive ? 200 : 503, body, ctx.RequestAborted);
    }

    public async Task TokenizeAsync(HttpContext ctx)
    {
        var body = new JsonFields(await RequestBody.ReadObjectAsync(ctx.Request, options.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false));
        IReadOnlyList<int> ids;
        if (body.TryGet("messages", out _))
        {
            ids = ChatCompletionsEndpoint.BuildPrompt(body, chat).Ids;
        }
        else
        {
            string prompt = body.String("prompt") ?? throw ApiException.BadRequest("'prompt' (a string) or 'messages' is required", "prompt");
            ids = engine.Tokenizer.Encode(prompt, addBos: body.Bool("add_special_tokens", true));
        }

        await JsonResponses.WriteAsync(ctx.Response, 200, new JsonObject
        {
            ["tokens"] = ResponseParts.TokenIds(ids),
            ["count"] = ids.Count,
            ["max_model_len"] = engine.MaxContext,
        }, ctx.RequestAborted).ConfigureAwait(false);
    }

    public async Task DetokenizeAsync(HttpContext ctx)
    {
        var body = new JsonFields(await RequestBody.ReadObjectAsync(ctx.Request, options.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false));
        if (!body.TryGet("tokens", out var tokens) || tokens.ValueKind != JsonValueKind.Array)
            throw JsonFields.WrongType("tokens", "an array of token ids");
        var ids = body.Ints("tokens", 0, engine.Tokenizer.VocabSize - 1);
        await JsonResponses.WriteAsync(ctx.Response, 200, new JsonObject { ["prompt"] = engine.Tokenizer.Decode(ids) }, ctx.RequestAborted).ConfigureAwait(false);
    }

    public async Task MetricsAsync(HttpContext ctx)
    {
        // The snapshot is taken after every command already sent to the engine (so an abort's blocks are free).
        var snapshot = await engine.GetSnapshotAsync(ctx.RequestAborted).ConfigureAwait(false);
        metrics.Update(snapshot, engine.IsAlive);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }
}
