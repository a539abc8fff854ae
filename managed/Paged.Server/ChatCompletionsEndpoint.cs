using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Models.Templates;
using Paged.Models.Tokenization;
using Paged.Server.Tools;

namespace Paged.Server;

/// <summary>POST /v1/chat/completions: the messages rendered by the chat template, then generated like a completion.</summary>
internal sealed class ChatCompletionsEndpoint(GenerationRunner runner, ChatPrompt chat, ServerOptions options, string fingerprint, KvTransfer.KvTransferEndpoint? transfer = null)
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

    /// <summary>Reads and validates a request body and renders its prompt (shared with <see cref="LocalApi"/>).</summary>
    internal PreparedCall Prepare(JsonFields body)
    {
        var settings = RequestSettings.Parse(body, options, Tokenizer.VocabSize, chat: true, runner.Engine.Adapters);
        var tools = ToolRequest.Parse(body, options.ToolCallParser);
        var (text, ids) = BuildPrompt(body, chat, tools);
        var request = new GenerationRequest
        {
            Prompt = text,
            PromptTokenIds = ids,
            Sampling = settings.ForPrompt(ids.Count, runner.Engine.MaxContext, options, "messages"),
            Attributes = settings.Attributes,
            Lora = settings.Lora,
        };
        var shape = new Shape(ResponseParts.NewId("chatcmpl"), ResponseParts.Created(), settings.ModelName(options), fingerprint, settings, Tokenizer, tools.Format);
        return new PreparedCall([request], settings, shape);
    }

    /// <summary>Reads messages, tools (unless <paramref name="toolRequest"/> decided them) and chat_template_kwargs and
    /// renders the prompt (shared with /tokenize).</summary>
    internal static (string Text, List<int> Ids) BuildPrompt(JsonFields body, ChatPrompt chat, ToolRequest? toolRequest = null)
    {
        if (!body.TryGet("messages", out var messagesJson) || messagesJson.ValueKind != JsonValueKind.Array)
            throw JsonFields.WrongType("messages", "an array of messages");
        if (messagesJson.GetArrayLength() == 0)
            throw ApiException.BadRequest("'messages' must not be empty", "messages");
        var messages = messagesJson.EnumerateArray().Select(ChatPrompt.Message).ToList();

        IReadOnlyList<object?>? tools = toolRequest?.Tools;
        if (toolRequest is null && body.TryGet("tools", out var toolsJson))
        {
            if (toolsJson.ValueKind != JsonValueKind.Array)
                throw JsonFields.WrongType("tools", "an array");
            tools = toolsJson.EnumerateArray().Select(t => (object?)t).ToList();
        }

        Dictionary<string, object?>? variables = null;
        if (body.ObjectField("chat_template_kwargs") is { } kwargs)
            variables = kwargs.Object.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);

        try
        {
            return chat.Build(messages, body.Bool("add_generation_prompt", true), tools, variables);
        }
        catch (TemplateException e)
        {
            throw ApiException.BadRequest($"the messages cannot be rendered: {e.Message}", "messages");
        }
    }

    private sealed class Shape(string id, long created, string model, string fingerprint, RequestSettings settings, ITokenizer tokenizer, ToolCallFormat toolFormat) : IResponseShape
    {
        private readonly Dictionary<int, (ToolCallStreamParser Parser, int Calls)> _streams = [];

        public JsonObject Final(IReadOnlyList<RequestOutput> finals)
        {
            var o = finals[0];
            var choices = new JsonArray();
            foreach (var c in o.Completions)
            {
                var message = new JsonObject { ["role"] = "assistant", ["content"] = c.Text };
                string? finish = ResponseParts.FinishReasonText(c.FinishReason);
                if (toolFormat != ToolCallFormat.None && ToolCallParsing.Parse(toolFormat, c.Text) is { Calls.Count: > 0 } parsed)
                {
                    message["content"] = parsed.Content;
                    message["tool_calls"] = ToolCallJson.Message(parsed.Calls);
                    finish = "tool_calls";
                }

                var choice = new JsonObject
                {
                    ["index"] = c.Index,
                    ["message"] = message,
                    ["logprobs"] = Logprobs(c.Logprobs),
                    ["finish_reason"] = finish,
                    ["stop_reason"] = ResponseParts.StopReason(c),
                };
                if (settings.ReturnTokenIds)
                    choice["token_ids"] = ResponseParts.TokenIds(c.TokenIds);
                choices.Add(choice);
            }

            var body = Envelope("chat.completion");
            body["choices"] = choices;
            body["usage"] = ResponseParts.Usage(finals);
            if (settings.ReturnTokenIds)
                body["prompt_token_ids"] = ResponseParts.TokenIds(o.PromptTokenIds);
            if (o.PromptLogprobs is not null)
                body["prompt_logprobs"] = ResponseParts.PromptLogprobs(tokenizer, o.PromptLogprobs);
            body["weight_version"] = o.WeightVersion;
            return body;
        }

        public JsonObject Chunk(int choiceIndex, RequestOutput output, CompletionOutput completion, bool first, bool finishing)
        {
            var delta = new JsonObject();
            if (first)
                delta["role"] = "assistant";
            if (first || completion.TextDelta.Length > 0)
                delta["content"] = completion.TextDelta;
            var choice = new JsonObject
            {
                ["index"] = choiceIndex,
                ["delta"] = delta,
                ["logprobs"] = Logprobs(completion.NewLogprobs),
                ["finish_reason"] = finishing ? ResponseParts.FinishReasonText(completion.FinishReason) : null,
                ["stop_reason"] = finishing ? ResponseParts.StopReason(completion) : null,
            };
            if (settings.ReturnTokenIds)
                choice["token_ids"] = ResponseParts.TokenIds(completion.NewTokenIds);
            var chunk = Envelope("chat.completion.chunk");
            chunk["choices"] = new JsonArray(choice);
            if (settings.ReturnTokenIds && first)
                chunk["prompt_token_ids"] = ResponseParts.TokenIds(output.PromptTokenIds);
            if (first && output.PromptLogprobs is not null)
                chunk["prompt_logprobs"] = ResponseParts.PromptLogprobs(tokenizer, output.PromptLogprobs);
            chunk["weight_version"] = output.WeightVersion;
            if (settings.IncludeUsage)
                chunk["usage"] = null;
            return chunk;
        }

        /// <summary>With a tool parser: content held back while it may be a call, and each call as a header delta (index, id,
        /// name) followed by an arguments delta; finish_reason "tool_calls" when the choice called a tool.</summary>
        public IEnumerable<JsonObject> Chunks(int choiceIndex, RequestOutput output, CompletionOutput completion, bool first, bool finishing)
        {
            if (toolFormat == ToolCallFormat.None)
                return [Chunk(choiceIndex, output, completion, first, finishing)];
            var (parser, calls) = _streams.TryGetValue(choiceIndex, out var s) ? s : (new ToolCallStreamParser(toolFormat), 0);
            var pieces = parser.Feed(completion.TextDelta).Concat(finishing ? parser.Finish() : []).ToList();
            string content = string.Concat(pieces.Where(p => p.Call is null).Select(p => p.Content));
            var chunks = new List<JsonObject> { Chunk(choiceIndex, output, completion, first, finishing && !pieces.Any(p => p.Call is not null) && calls == 0) };
            var delta = (JsonObject)chunks[0]["choices"]![0]!["delta"]!;
            if (content.Length > 0 || first)
                delta["content"] = content;
            else
                delta.Remove("content");
            foreach (var call in pieces.Where(p => p.Call is not null).Select(p => p.Call!))
            {
                chunks.Add(ToolDelta(choiceIndex, ToolCallJson.Header(calls, call), null));
                chunks.Add(ToolDelta(choiceIndex, ToolCallJson.Arguments(calls, call.Arguments), null));
                calls++;
            }

            if (finishing && calls > 0)
                chunks.Add(ToolDelta(choiceIndex, null, "tool_calls"));
            _streams[choiceIndex] = (parser, calls);
            return chunks;
        }

        private JsonObject ToolDelta(int choiceIndex, JsonObject? toolCall, string? finish)
        {
            var delta = new JsonObject();
            if (toolCall is not null)
                delta["tool_calls"] = new JsonArray(toolCall);
            var chunk = Envelope("chat.completion.chunk");
            chunk["choices"] = new JsonArray(new JsonObject { ["index"] = choiceIndex, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish });
            if (settings.IncludeUsage)
                chunk["usage"] = null;
            return chunk;
        }

        public JsonObject UsageChunk(IReadOnlyList<RequestOutput> finals)
        {
            var chunk = Envelope("chat.completion.chunk");
            chunk["choices"] = new JsonArray();
            chunk["usage"] = ResponseParts.Usage(finals);
            return chunk;
        }

        private JsonObject Envelope(string kind) => new()
        {
            ["id"] = id,
            ["object"] = kind,
            ["created"] = created,
            ["model"] = model,
            ["system_fingerprint"] = fingerprint,
        };

        /// <summary>Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}.</summary>
        private JsonObject? Logprobs(IReadOnlyList<TokenLogprobs>? logprobs)
        {
            if (settings.Sampling.Logprobs is null || logprobs is null)
                return null;
            var content = new JsonArray();
            foreach (var l in logprobs)
            {
                var top = new JsonArray();
                foreach (var alt in l.Top)
                    top.Add(Entry(alt.TokenId, alt.Logprob));
                var entry = Entry(l.TokenId, l.Logprob);
                entry["top_logprobs"] = top;
                content.Add(entry);
            }

            return new JsonObject { ["content"] = content };
        }

        private JsonObject Entry(int tokenId, float logprob)
        {
            var (text, bytes) = ResponseParts.TokenText(tokenizer, tokenId);
            return new JsonObject { ["token"] = text, ["logprob"] = ResponseParts.Logprob(logprob), ["bytes"] = bytes };
        }
    }
}
