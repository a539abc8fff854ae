using System.Text;
using System.Text.Json.Nodes;
using Paged.Engine;
using Paged.Models.Tokenization;

namespace Paged.Server;

/// <summary>Pieces both completion endpoints put in their responses: ids, usage, finish and stop reasons, token texts.</summary>
internal static class ResponseParts
{
    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static long Created() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static string? FinishReasonText(FinishReason reason) => reason switch
    {
        FinishReason.None => null,
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Abort => "abort",
        _ => "error",
    };

    /// <summary>vLLM's stop_reason: the stop string or the requested stop token id that ended the completion, else null.</summary>
    public static JsonNode? StopReason(CompletionOutput c) =>
        c.StopString is { } s ? JsonValue.Create(s) : c.StopTokenId is int id ? JsonValue.Create(id) : null;

    public static JsonObject Usage(IEnumerable<RequestOutput> finals)
    {
        int prompt = 0;
        int completion = 0;
        int cached = 0;
        foreach (var o in finals)
        {
            prompt += o.PromptTokenIds.Count;
            cached += o.CachedPromptTokens;
            completion += o.Completions.Sum(c => c.TokenIds.Count);
        }

        return new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached },
        };
    }

    /// <summary>A token as text (its piece's bytes as UTF-8, which may be a fragment of a character) and its raw bytes.</summary>
    public static (string Text, JsonArray Bytes) TokenText(ITokenizer tokenizer, int id)
    {
        var bytes = tokenizer.PieceBytes(id);
        var array = new JsonArray();
        foreach (byte b in bytes)
            array.Add(b);
        return (Encoding.UTF8.GetString(bytes), array);
    }

    /// <summary>A logprob as JSON allows it: -inf (a token the filters removed) becomes -9999.0, as vLLM reports it.</summary>
    public static float Logprob(float value) => float.IsFinite(value) ? value : -9999f;

    /// <summary>
    /// vLLM's prompt_logprobs: null for the first prompt token, then per token an object keyed by token id with
    /// {"logprob", "rank", "decoded_token"} (vLLM's Logprob) for the prompt token itself (its rank among the vocabulary)
    /// and its top alternatives (rank i + 1 for the i-th).
    /// </summary>
    public static JsonArray PromptLogprobs(ITokenizer tokenizer, IReadOnlyList<TokenLogprobs?> logprobs)
    {
        var list = new JsonArray();
        foreach (var t in logprobs)
        {
            if (t is null)
            {
                list.Add(null);
                continue;
            }

            var entry = new JsonObject();
            foreach (var (id, lp, rank) in t.Top.Select((e, i) => (e.TokenId, e.Logprob, i + 1)).Prepend((t.TokenId, t.Logprob, t.Rank)))
            {
                string key = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (!entry.ContainsKey(key))
                    entry[key] = new JsonObject { ["logprob"] = Logprob(lp), ["rank"] = rank, ["decoded_token"] = TokenText(tokenizer, id).Text };
            }

            list.Add(entry);
        }

        return list;
    }

    public static JsonArray TokenIds(IEnumerable<int> ids) => [.. ids.Select(i => (JsonNode?)i)];
}
