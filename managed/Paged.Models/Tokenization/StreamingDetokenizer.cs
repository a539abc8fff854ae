using System.Text;

namespace Paged.Models.Tokenization;

/// <summary>
/// Turns a stream of token ids into text incrementally. Incomplete UTF-8 sequences (an emoji spread over byte pieces or
/// over byte-level BPE tokens) are held back until complete; the concatenation of all <see cref="Append"/> results and
/// <see cref="Flush"/> equals <see cref="ITokenizer.Decode(IEnumerable{int}, bool)"/> of all ids.
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetDecoder();
    private PieceDecoding _pieces;
    private char[] _chars = new char[64];

    /// <param name="skipSpecialTokens">Leave special tokens out of the text (the OpenAI API's and vLLM's default).</param>
    public StreamingDetokenizer(ITokenizer tokenizer, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _pieces = new PieceDecoding(tokenizer, skipSpecialTokens);
    }

    /// <summary>Adds one token; returns the text it completes (possibly empty).</summary>
    public string Append(int id) => Convert(_pieces.Next(id), flush: false);

    /// <summary>Emits whatever is buffered; an incomplete trailing sequence becomes U+FFFD. The detokenizer can then be reused.</summary>
    public string Flush()
    {
        string rest = Convert(_pieces.Finish(), flush: true);
        _pieces = new PieceDecoding(_tokenizer, _skipSpecialTokens);
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
