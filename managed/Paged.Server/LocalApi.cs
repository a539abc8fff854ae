using System.Text.Json;
using System.Text.Json.Nodes;
using Paged.Engine;
using Paged.Models.Templates;

namespace Paged.Server;

/// <summary>What an endpoint made of a request body: the engine requests (one per prompt), the settings and the response shape.</summary>
internal sealed record PreparedCall(IReadOnlyList<GenerationRequest> Requests, RequestSettings Settings, IResponseShape Shape);

/// <summary>The answer to one call: the HTTP status the server would send and its JSON body (the response, or an OpenAI error object).</summary>
public sealed record LocalApiResult(int StatusCode, JsonObject Body, long CompletionTokens);

/// <summary>
/// /v1/completions and /v1/chat/completions without HTTP (for <c>paged run-batch</c>): a request body goes through the
/// server's own parsing, validation and response building and comes back as the status and body a non-streaming
/// HTTP call would get. Every call runs on the same <see cref="AsyncEngine"/>, so concurrent calls batch continuously.
/// </summary>
public sealed class LocalApi
{
    public const string CompletionsRoute = "/v1/completions";
    public const string ChatCompletionsRoute = "/v1/chat/completions";

    private readonly GenerationRunner _runner;
    private readonly CompletionsEndpoint _completions;
    private readonly ChatCompletionsEndpoint _chat;

    public LocalApi(AsyncEngine engine, ChatTemplate chatTemplate, ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(chatTemplate);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _runner = new GenerationRunner(engine, options, new ServerMetrics(options.ServedModelName));
        string fingerprint = $"fp_paged_{engine.Options.Device}";
        _completions = new CompletionsEndpoint(_runner, options, fingerprint);
        _chat = new ChatCompletionsEndpoint(_runner, new ChatPrompt(chatTemplate, engine.Tokenizer), options, fingerprint);
    }

    /// <summary>The routes <see cref="InvokeAsync"/> answers.</summary>
    public static IReadOnlyList<string> Routes { get; } = [CompletionsRoute, ChatCompletionsRoute];

    /// <summary>
    /// Runs one request body on <paramref name="route"/>. Invalid input, an unknown route, a streaming request or a
    /// failure in the engine is answered with the error status and body the server would send; nothing is thrown
    /// except <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task<LocalApiResult> InvokeAsync(string route, JsonElement body, CancellationToken cancellationToken = default)
    {
        try
        {
            if (body.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest($"the request body must be a JSON object, not {body.ValueKind.ToString().ToLowerInvariant()}");
            var fields = new JsonFields(body);
            var call = route switch
            {
                CompletionsRoute => _completions.Prepare(fields),
                ChatCompletionsRoute => _chat.Prepare(fields),
                _ => throw new ApiException(404, $"no route POST {route}; use {string.Join(" or ", Routes)}", code: "not_found"),
            };
            if (call.Settings.Stream)
                throw ApiException.BadRequest("'stream': true is not possible here: the answer is one JSON body", "stream");
            var outputs = _runner.Start(call.Requests, cancellationToken);
            var finals = await CollectFinalsAsync(outputs, call.Requests.Count, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return new LocalApiResult(200, call.Shape.Final(finals), finals.Sum(f => f.Completions.Sum(c => (long)c.TokenIds.Count)));
        }
        catch (ApiException e)
        {
            return new LocalApiResult(e.Status, e.ToJson(), 0);
        }
    }

    /// <summary>
    /// Reads merged outputs to the end and returns each prompt's final output (also the server's non-streaming path);
    /// a request that ended without one or failed in the engine is an <see cref="ApiException"/> (500).
    /// </summary>
    internal static async Task<RequestOutput[]> CollectFinalsAsync(IAsyncEnumerable<(int Index, RequestOutput Output)> outputs, int count, CancellationToken aborted)
    {
        var finals = new RequestOutput?[count];
        await foreach (var (i, o) in outputs.ConfigureAwait(false))
        {
            if (o.Finished)
                finals[i] = o;
        }

        if (aborted.IsCancellationRequested)
            return [];
        foreach (var o in finals)
        {
            if (o is null)
                throw new ApiException(500, "a request ended without a final output");
            if (o.FinishReason == FinishReason.Error)
                throw new ApiException(500, o.Error ?? "the request failed in the engine", type: "server_error", code: "engine_error");
        }

        return finals!;
    }
}
