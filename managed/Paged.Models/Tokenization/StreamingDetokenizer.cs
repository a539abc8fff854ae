using System.Text;

namespace Paged.Models.Tokenization;

/// <summary>
/// Turns a stream of token ids into text incrementally. Incomplete UTF-8 sequences (e.g. an emoji spread over byte
/// pieces) are held back until complete; the concatenation of all <see cref="Append"/> results and <see cref="Flush"/>
/// equals <see cref="ITokenizer.Decode"/> of all ids.
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly ITokenizer _tokenizer;
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetDecoder();
    private char[] _chars = new char[64];
    private bool _previousWasBos;

    public StreamingDetokenizer(ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
    }

    /// <summary>Adds one token; returns the text it completes (possibly empty).</summary>
    public string Append(int id)
    {
        var bytes = PieceDecoding.BytesFor(_tokenizer, id, _previousWasBos);
        _previousWasBos = id == _tokenizer.BosId;
        return Convert(bytes, flush: false);
    }

    /// <summary>Emits whatever is buffered; an incomplete trailing sequence becomes U+FFFD. The detokenizer can then be reused.</summary>
    public string Flush()
    {
        string rest = Convert([], flush: true);
        _previousWasBos = false;
        return rest;
    }

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _decoder.GetCharCount(bytes, flush: false) + 4;
        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }

        int count = _decoder.GetChars(bytes, _chars, flush);
        return count == 0 ? string.Empty : new string(_chars, 0, count);
    }
}
