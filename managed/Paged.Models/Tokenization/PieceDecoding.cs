using System.Text.Unicode;

namespace Paged.Models.Tokenization;

/// <summary>The rules for turning ids into output bytes, shared by Decode and the streaming detokenizer.</summary>
internal sealed class PieceDecoding
{
    private static readonly byte[] Replacement = "\uFFFD"u8.ToArray();

    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly bool _groupByteRuns;
    private readonly List<byte> _run = [];
    private readonly List<byte> _output = [];
    private int _previousId = -1;
    private bool _started;
    private bool _runAtStart;

    public PieceDecoding(ITokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _groupByteRuns = tokenizer is HfTokenizer { GroupsByteRuns: true };
    }

    /// <summary>
    /// The bytes that become final with token <paramref name="id"/>: nothing for a skipped special token (llama2.c BOS/EOS
    /// always); a piece loses its leading space after BOS or at the start, per the tokenizer's rule. Skipped tokens do not
    /// count as the start (HF removes them before its decoders run). With HF's ByteFallback decoder a run of byte tokens is
    /// held until it ends, then emitted as-is when it is valid UTF-8 and as one U+FFFD per token otherwise.
    /// </summary>
    public ReadOnlySpan<byte> Next(int id)
    {
        var rule = _tokenizer.LeadingSpace;
        bool afterBos = _previousId == _tokenizer.BosId && _previousId >= 0;
        _previousId = id;
        var type = _tokenizer.PieceType(id);
        bool skip = (_skipSpecialTokens && type == TokenPieceType.Control)
            || (rule == LeadingSpaceRule.AfterBos && (id == _tokenizer.BosId || id == _tokenizer.EosId));
        if (skip)
        {
            return [];
        }

        bool strip = rule switch
        {
            LeadingSpaceRule.AfterBos => afterBos && type != TokenPieceType.Byte,
            LeadingSpaceRule.AtStart => !_started,
            _ => false,
        };
        _started = true;
        if (_groupByteRuns && type == TokenPieceType.Byte)
        {
            _runAtStart |= strip;
            _run.AddRange(_tokenizer.PieceBytes(id));
            return [];
        }

        _output.Clear();
        FlushRun();
        var bytes = _tokenizer.PieceBytes(id);
        _output.AddRange(strip ? StripSpace(bytes) : bytes);
        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_output);
    }

    /// <summary>The bytes still held at the end of the sequence (an unfinished byte-token run).</summary>
    public ReadOnlySpan<byte> Finish()
    {
        _output.Clear();
        FlushRun();
        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_output);
    }

    /// <summary>Decodes a whole id sequence (invalid UTF-8 becomes U+FFFD).</summary>
    public static string Decode(ITokenizer tokenizer, IEnumerable<int> ids, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var state = new PieceDecoding(tokenizer, skipSpecialTokens);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            bytes.AddRange(state.Next(id));
        }

        bytes.AddRange(state.Finish());
        return System.Text.Encoding.UTF8.GetString([.. bytes]);
    }

    private void FlushRun()
    {
        if (_run.Count == 0)
        {
            return;
        }

        var run = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_run);
        if (Utf8.IsValid(run))
        {
            _output.AddRange(_runAtStart ? StripSpace(run) : run);
        }
        else
        {
            for (int i = 0; i < run.Length; i++)
            {
                _output.AddRange(Replacement);
            }
        }

        _run.Clear();
        _runAtStart = false;
    }

    private static ReadOnlySpan<byte> StripSpace(ReadOnlySpan<byte> bytes) =>
        bytes.Length > 0 && bytes[0] == (byte)' ' ? bytes[1..] : bytes;
}
