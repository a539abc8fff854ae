using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Paged.Engine;

namespace Paged.Server;

/// <summary>What differs between /v1/completions and /v1/chat/completions: the response and chunk shapes.</summary>
internal interface IResponseShape
{
    /// <summary>The non-streaming response from every prompt's final output.</summary>
    JsonObject Final(IReadOnlyList<RequestOutput> finals);

    /// <summary>One streamed chunk for one choice: its delta since the previous chunk, and its finish when <paramref name="finishing"/>.</summary>
    JsonObject Chunk(int choiceIndex, RequestOutput output, CompletionOutput completion, bool first, bool finishing);

    /// <summary>The events for one choice's step: one <see cref="Chunk"/> unless the shape splits it (streamed tool calls).</summary>
    IEnumerable<JsonObject> Chunks(int choiceIndex, RequestOutput output, CompletionOutput completion, bool first, bool finishing) =>
        [Chunk(choiceIndex, output, completion, first, finishing)];

    /// <summary>The last chunk when stream_options.include_usage is set: no choices, the usage.</summary>
    JsonObject UsageChunk(IReadOnlyList<RequestOutput> finals);
}

/// <summary>
/// Runs a completion request and answers it: one JSON body, or server-sent events ending in [DONE]. Errors
/// before the response starts are ordinary error responses (thrown); an error after streaming began is sent as
/// an SSE error object, then [DONE]; a client that left gets nothing more.
/// </summary>
internal static class EndpointDriver
{
    public static async Task RunAsync(HttpContext ctx, GenerationRunner runner, IReadOnlyList<GenerationRequest> requests, RequestSettings settings, IResponseShape shape)
    {
        var outputs = runner.Start(requests, ctx.RequestAborted);
        if (!settings.Stream)
        {
            var all = await LocalApi.CollectFinalsAsync(outputs, requests.Count, ctx.RequestAborted).ConfigureAwait(false);
            if (!ctx.RequestAborted.IsCancellationRequested)
                await JsonResponses.WriteAsync(ctx.Response, 200, shape.Final(all), ctx.RequestAborted).ConfigureAwait(false);
            return;
        }

        var finals = new RequestOutput?[requests.Count];
        var sse = new SseWriter(ctx.Response);
        await sse.StartAsync(ctx.RequestAborted).ConfigureAwait(false);
        int n = settings.Sampling.N;
        var started = new bool[requests.Count * n];
        var finished = new bool[requests.Count * n];
        try
        {
            await foreach (var (i, o) in outputs.ConfigureAwait(false))
            {
                if (o.Finished && o.FinishReason == FinishReason.Error)
                    throw new ApiException(500, o.Error ?? "the request failed in the engine", type: "server_error", code: "engine_error");
                foreach (var c in o.Completions)
                {
                    int index = (i * n) + c.Index;
                    bool finishing = c.Finished && !finished[index];
                    if (started[index] && !finishing && c.TextDelta.Length == 0 && c.NewTokenIds.Count == 0)
                        continue;
                    foreach (var chunk in shape.Chunks(index, o, c, !started[index], finishing))
                        await sse.WriteAsync(chunk, ctx.RequestAborted).ConfigureAwait(false);
                    started[index] = true;
                    finished[index] |= finishing;
                }

                if (o.Finished)
                    finals[i] = o;
            }

            if (ctx.RequestAborted.IsCancellationRequested)
                return;
            if (settings.IncludeUsage && finals.All(f => f is not null))
                await sse.WriteAsync(shape.UsageChunk(finals!), ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (ApiException e)
        {
            await sse.WriteAsync(e.ToJson(), ctx.RequestAborted).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // whatever failed after the stream began is reported in the stream, which then ends properly
        catch (Exception e)
#pragma warning restore CA1031
        {
            await sse.WriteAsync(ApiException.ErrorBody($"internal error: {e.Message}", "server_error", null, "500"), ctx.RequestAborted).ConfigureAwait(false);
        }

        await sse.DoneAsync(ctx.RequestAborted).ConfigureAwait(false);
    }
}
