using System.Text;
using CsCheck;

namespace Paged.Engine.Tests;

/// <summary>One scripted request: its prompt, sampling parameters and the tokens each completion will sample.</summary>
internal sealed record ScriptedRequest(string Id, int[] Prompt, SamplingParams Sampling, int[][] Scripts);

/// <summary>
/// Random scripted workloads for the streaming-text properties: token scripts that split multi-byte characters
/// across byte tokens, multi-byte pieces, stray invalid bytes, end-of-sequence and stop token ids; stop strings
/// cut from the script's own text (so they span tokens and steps) or multi-byte; n up to 3; random engine limits
/// (memory pressure preempts and recomputes). The expected final text is derived from a plain decode of each
/// script, not from the engine's streaming detokenizer.
/// </summary>
internal sealed record TextWorkload(int BlockSize, int ExtraBlocks, int MaxNumSeqs, int MaxBatchedTokens, bool PrefixCaching, int Seed, int NumRequests)
{
    private static readonly string[] MultiByteChars = ["é", "€", "😀", "☃"];
    private static readonly string[] MultiByteStops = ["😀a", "é€", "€", "bc\n", "b😀", "ab", "☃"];

    public static readonly Gen<TextWorkload> Gen = CsCheck.Gen.Select(
        CsCheck.Gen.Int[0, 3].Select(i => 1 << i), CsCheck.Gen.Int[0, 40], CsCheck.Gen.Int[3, 8], CsCheck.Gen.Int[1, 48],
        CsCheck.Gen.Bool, CsCheck.Gen.Int, CsCheck.Gen.Int[1, 5],
        (bs, extra, seqs, tokens, prefix, seed, n) => new TextWorkload(bs, extra, seqs, tokens, prefix, seed, n));

    public EngineOptions Options => FakeModel.Options(
        numKvBlocks: (3 * ((60 + BlockSize - 1) / BlockSize)) + ExtraBlocks, blockSize: BlockSize, maxNumSeqs: MaxNumSeqs, maxBatchedTokens: MaxBatchedTokens)
        with { PrefixCaching = PrefixCaching };

    public List<ScriptedRequest> Requests()
    {
        var random = new Random(Seed);
        var tokenizer = new FakeTokenizer();
        var requests = new List<ScriptedRequest>();
        for (int r = 0; r < NumRequests; r++)
        {
            int maxTokens = random.Next(1, 40);
            int n = random.Next(4) == 0 ? random.Next(2, 4) : 1;
            var scripts = Enumerable.Range(0, n).Select(_ => Script(random, maxTokens)).ToArray();
            var stops = new List<string>();
            for (int s = random.Next(0, 4); s > 0; s--)
            {
                if (random.Next(3) == 0)
                    stops.Add(MultiByteStops[random.Next(MultiByteStops.Length)]);
                else if (Cut(random, tokenizer.Decode(scripts[random.Next(n)])) is { } cut)
                    stops.Add(cut);
            }

            var sampling = new SamplingParams
            {
                MaxTokens = maxTokens,
                N = n,
                Stop = stops,
                StopTokenIds = random.Next(3) == 0 ? [FakeTokenizer.Id("xyz")] : [],
                IgnoreEos = random.Next(4) == 0,
                Logprobs = random.Next(3) == 0 ? 0 : null,
            };
            var prompt = Enumerable.Range(0, random.Next(1, 12)).Select(_ => FakeTokenizer.FirstPiece + random.Next(FakeTokenizer.Pieces.Length)).ToArray();
            requests.Add(new ScriptedRequest($"r{r}", prompt, sampling, scripts));
        }

        return requests;
    }

    private static int[] Script(Random random, int length)
    {
        var tokens = new List<int>();
        while (tokens.Count < length)
        {
            int kind = random.Next(40);
            if (kind < 26)
                tokens.Add(FakeTokenizer.FirstPiece + random.Next(FakeTokenizer.Pieces.Length));
            else if (kind < 36)
            {
                // A multi-byte character spelt as byte tokens: the detokenizer must hold its first bytes back.
                foreach (byte b in Encoding.UTF8.GetBytes(MultiByteChars[random.Next(MultiByteChars.Length)]))
                    tokens.Add(FakeTokenizer.Byte(b));
            }
            else if (kind < 37)
                tokens.Add(FakeTokenizer.Byte(0xFF)); // invalid UTF-8: becomes U+FFFD in both decodes
            else
                tokens.Add(2); // end of sequence
        }

        return [.. tokens.Take(length)];
    }

    /// <summary>A 1..4-character piece of <paramref name="text"/> that does not split a surrogate pair or hold U+FFFD.</summary>
    private static string? Cut(Random random, string text)
    {
        if (text.Length == 0)
            return null;
        int start = random.Next(text.Length);
        int length = Math.Min(random.Next(1, 5), text.Length - start);
        string cut = text.Substring(start, length);
        if (char.IsLowSurrogate(cut[0]) || char.IsHighSurrogate(cut[^1]) || cut.Contains('\uFFFD', StringComparison.Ordinal))
            return null;
        return cut;
    }

    /// <summary>
    /// What a completion sampling <paramref name="script"/> must end as: its text, finish and stop reasons, and how
    /// many tokens it generated. Stop rules in the engine's order (end-of-sequence ids, stop token ids, stop
    /// strings: cut at the earliest occurrence, length) applied to a plain decode of each prefix of the script.
    /// </summary>
    public static (string Text, FinishReason Reason, string? StopString, int? StopTokenId, int Tokens) Expected(
        int[] script, SamplingParams p, Func<int[], string>? decode = null, IReadOnlyCollection<int>? endIds = null)
    {
        decode ??= new FakeTokenizer().Decode;
        endIds ??= [2];
        for (int k = 1; ; k++)
        {
            int t = script[k - 1];
            if (!p.IgnoreEos && endIds.Contains(t))
                return (decode(script[..(k - 1)]), FinishReason.Stop, null, null, k);
            if (p.StopTokenIds.Contains(t))
                return (decode(script[..(k - 1)]), FinishReason.Stop, null, t, k);
            string text = decode(script[..k]);
            var hits = p.Stop.Select(s => (Stop: s, At: text.IndexOf(s, StringComparison.Ordinal))).Where(h => h.At >= 0).ToList();
            if (hits.Count > 0)
            {
                var (stop, at) = hits.MinBy(h => h.At); // the earliest occurrence; the first listed on a tie
                return (text[..at], FinishReason.Stop, stop, null, k);
            }

            if (k == p.MaxTokens)
                return (text, FinishReason.Length, null, null, k);
        }
    }
}
