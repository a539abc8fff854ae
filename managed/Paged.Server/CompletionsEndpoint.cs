using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Models.Tokenization;

namespace Paged.Server;

/// <summary>POST /v1/completions: prompt as a string, strings, token ids or lists of token ids.</summary>
internal sealed class CompletionsEndpoint(GenerationRunner runner, ServerOptions options, string fingerprint, KvTransfer.KvTransferEndpoint? transfer = null)
{
    private ITokenizer Tokenizer => runner.Engine.Tokenizer;

    public async Task HandleAsync(HttpContext ctx)
    {
        var body = new JsonFields(await RequestBody.ReadObjectAsync(ctx.Request, options.MaxBodyBytes, ctx.RequestAborted).ConfigureAwait(false));
        var call = Prepare(body);
        if (transfer is not null && await transfer.TryHandleAsync(ctx, body, call).ConfigureAwait(false))
            return;
        await EndpointDriver.RunAsync(ctx, runner, call.Requests, call.Settings, call.Shape).ConfigureAwait(false);
    }

    /// <summary>Reads and validates a request body into engine requests (shared with <see cref="LocalApi"/>).</summary>
    internal PreparedCall Prepare(JsonFields body)
    {
        var settings = RequestSettings.Parse(body, options, Tokenizer.VocabSize, chat: false, runner.Engine.Adapters);
        bool echo = body.Bool("echo", false);
        if (echo && settings.Sampling.Logprobs is int k)
        {
            // OpenAI's echo + logprobs: the logprobs cover the prompt tokens too (the first one's is null).
            settings = settings with { Sampling = settings.Sampling with { PromptLogprobs = Math.Max(k, settings.Sampling.PromptLogprobs ?? 0) } };
        }

        var requests = new List<GenerationRequest>();
        foreach (var (text, ids) in Prompts(body))
        {
            requests.Add(new GenerationRequest
            {
                Prompt = text,
                PromptTokenIds = ids,
                Sampling = settings.ForPrompt(ids.Count, runner.Engine.MaxContext, options, "prompt"),
                Attributes = settings.Attributes,
                Lora = settings.Lora,
            });
        }

        bool promptLogprobs = body.TryGet("prompt_logprobs", out var asked) && asked.ValueKind != JsonValueKind.Null;
        var shape = new Shape(ResponseParts.NewId("cmpl"), ResponseParts.Created(), settings.ModelName(options), fingerprint, settings, echo, Tokenizer)
        {
            ReportPromptLogprobs = promptLogprobs,
        };
        return new PreparedCall(requests, settings, shape);
    }

    private List<(string? Text, IReadOnlyList<int> Ids)> Prompts(JsonFields body)
    {
        if (!body.TryGet("prompt", out var prompt))
            throw ApiException.BadRequest("'prompt' is required", "prompt");
        var prompts = new List<(string?, IReadOnlyList<int>)>();
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                prompts.Add(FromText(prompt.GetString()!));
                break;
            case JsonValueKind.Array when prompt.GetArrayLength() == 0:
                throw ApiException.BadRequest("'prompt' must not be empty", "prompt");
            case JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number):
                prompts.Add((null, TokenIds(prompt)));
                break;
            case JsonValueKind.Array:
                foreach (var item in prompt.EnumerateArray())
                {
                    prompts.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => FromText(item.GetString()!),
                        JsonValueKind.Array => (null, TokenIds(item)),
                        _ => throw JsonFields.WrongType("prompt", "a string, an array of strings, an array of token ids or an array of arrays of token ids"),
                    });
                }

                break;
            default:
                throw JsonFields.WrongType("prompt", "a string, an array of strings, an array of token ids or an array of arrays of token ids");
        }

        if (prompts.Count > options.MaxPromptsPerRequest)
            throw ApiException.BadRequest($"at most {options.MaxPromptsPerRequest} prompts per request (got {prompts.Count})", "prompt");
        return prompts;
    }

    private (string?, IReadOnlyList<int>) FromText(string text)
    {
        if (text.Length > options.MaxBodyBytes)
            throw ApiException.BadRequest("the prompt is too long", "prompt");
        return (text, Tokenizer.Encode(text, addBos: true));
    }

    private List<int> TokenIds(JsonElement array)
    {
        var ids = array.EnumerateArray().Select(e => JsonFields.ToInt(e, "prompt", 0, Tokenizer.VocabSize - 1)).ToList();
        return ids.Count > 0 ? ids : throw ApiException.BadRequest("a token-id prompt must not be empty", "prompt");
    }

    private sealed class Shape(string id, long created, string model, string fingerprint, RequestSettings settings, bool echo, ITokenizer tokenizer) : IResponseShape
    {
        private readonly Dictionary<int, int> _textOffsets = [];

        /// <summary>The request named vLLM's prompt_logprobs: each choice carries them in vLLM's shape.</summary>
        public bool ReportPromptLogprobs { get; init; }

        public JsonObject Final(IReadOnlyList<RequestOutput> finals)
        {
            var choices = new JsonArray();
            for (int i = 0; i < finals.Count; i++)
            {
                var o = finals[i];
                foreach (var c in o.Completions)
                {
                    string prefix = echo ? o.Prompt : "";
                    var choice = Choice((i * settings.Sampling.N) + c.Index, prefix + c.Text, c, Echoed(o, c.Logprobs), EchoOffset(o, prefix), finishing: true);
                    AddPromptLogprobs(choice, o);
                    if (settings.ReturnTokenIds)
                    {
                        choice["token_ids"] = ResponseParts.TokenIds(c.TokenIds);
                        choice["prompt_token_ids"] = ResponseParts.TokenIds(o.PromptTokenIds);
                    }

                    choices.Add(choice);
                }
            }

            var body = Envelope();
            body["choices"] = choices;
            body["usage"] = ResponseParts.Usage(finals);
            body["weight_version"] = finals.Count == 0 ? 0 : finals.Min(f => f.WeightVersion);
            return body;
        }

        public JsonObject Chunk(int choiceIndex, RequestOutput output, CompletionOutput completion, bool first, bool finishing)
        {
            string prefix = first && echo ? output.Prompt : "";
            if (!_textOffsets.TryGetValue(choiceIndex, out int offset))
                offset = prefix.Length;
            var logprobs = first ? Echoed(output, completion.NewLogprobs) : ToEntries(completion.NewLogprobs);
            if (first)
                offset = EchoOffset(output, prefix);

            var choice = Choice(choiceIndex, prefix + completion.TextDelta, completion, logprobs, offset, finishing);
            if (first)
                AddPromptLogprobs(choice, output);
            if (settings.ReturnTokenIds)
            {
                choice["token_ids"] = ResponseParts.TokenIds(completion.NewTokenIds);
                if (first)
                    choice["prompt_token_ids"] = ResponseParts.TokenIds(output.PromptTokenIds);
            }

            _textOffsets[choiceIndex] = offset + (logprobs?.Sum(l => ResponseParts.TokenText(tokenizer, l.TokenId).Text.Length) ?? 0);
            var chunk = Envelope();
            chunk["weight_version"] = output.WeightVersion;
            chunk["choices"] = new JsonArray(choice);
            if (settings.IncludeUsage)
                chunk["usage"] = null;
            return chunk;
        }

        public JsonObject UsageChunk(IReadOnlyList<RequestOutput> finals)
        {
            var chunk = Envelope();
            chunk["choices"] = new JsonArray();
            chunk["usage"] = ResponseParts.Usage(finals);
            return chunk;
        }

        private JsonObject Envelope() => new()
        {
            ["id"] = id,
            ["object"] = "text_completion",
            ["created"] = created,
            ["model"] = model,
            ["system_fingerprint"] = fingerprint,
        };

        /// <summary>The logprobs to report: with echo, the prompt tokens' first (the first token's logprob is null).</summary>
        private List<(int TokenId, TokenLogprobs? Lp)>? Echoed(RequestOutput o, IReadOnlyList<TokenLogprobs>? generated)
        {
            var own = ToEntries(generated);
            if (!echo || own is null || o.PromptLogprobs is null)
                return own;
            return [.. o.PromptTokenIds.Select((id, p) => (id, o.PromptLogprobs[p])), .. own];
        }

        private static List<(int TokenId, TokenLogprobs? Lp)>? ToEntries(IReadOnlyList<TokenLogprobs>? logprobs) =>
            logprobs?.Select(l => (l.TokenId, (TokenLogprobs?)l)).ToList();

        /// <summary>Text offset of the first reported token: 0 when the echoed prompt's tokens are reported too.</summary>
        private int EchoOffset(RequestOutput o, string prefix) => echo && settings.Sampling.Logprobs is not null && o.PromptLogprobs is not null ? 0 : prefix.Length;

        private void AddPromptLogprobs(JsonObject choice, RequestOutput o)
        {
            if (ReportPromptLogprobs && o.PromptLogprobs is not null)
                choice["prompt_logprobs"] = ResponseParts.PromptLogprobs(tokenizer, o.PromptLogprobs);
        }

        private JsonObject Choice(int index, string text, CompletionOutput c, IReadOnlyList<(int TokenId, TokenLogprobs? Lp)>? logprobs, int textOffset, bool finishing) => new()
        {
            ["index"] = index,
            ["text"] = text,
            ["logprobs"] = settings.Sampling.Logprobs is null || logprobs is null ? null : Logprobs(logprobs, textOffset),
            ["finish_reason"] = finishing ? ResponseParts.FinishReasonText(c.FinishReason) : null,
            ["stop_reason"] = finishing ? ResponseParts.StopReason(c) : null,
        };

        /// <summary>The legacy completions logprobs object: tokens, token_logprobs, top_logprobs (token -> logprob) and text_offset.</summary>
        private JsonObject Logprobs(IReadOnlyList<(int TokenId, TokenLogprobs? Lp)> logprobs, int textOffset)
        {
            var tokens = new JsonArray();
            var tokenLogprobs = new JsonArray();
            var top = new JsonArray();
            var offsets = new JsonArray();
            foreach (var (id, l) in logprobs)
            {
                string text = ResponseParts.TokenText(tokenizer, id).Text;
                tokens.Add(text);
                if (l is null)
                {
                    tokenLogprobs.Add(null); // the first prompt token (echo): nothing precedes it
                    top.Add(null);
                    offsets.Add(textOffset);
                    textOffset += text.Length;
                    continue;
                }

                tokenLogprobs.Add(ResponseParts.Logprob(l.Logprob));
                var alternatives = new JsonObject();
                foreach (var alt in l.Top)
                    alternatives[ResponseParts.TokenText(tokenizer, alt.TokenId).Text] = ResponseParts.Logprob(alt.Logprob);
                top.Add(alternatives);
                offsets.Add(textOffset);
                textOffset += text.Length;
            }

            return new JsonObject { ["tokens"] = tokens, ["token_logprobs"] = tokenLogprobs, ["top_logprobs"] = top, ["text_offset"] = offsets };
        }
    }
}
