using System.Text;
using Paged.Models.Tokenization;

namespace Paged.Engine;

/// <summary>
/// One completion's text as it streams: the text decoded so far (cut before a stop string once one occurs) and
/// how much of it was already streamed. Text that could still be the start of a stop string is held back until
/// it is known not to be, so the streamed deltas always concatenate to the final text and never show a stop
/// string, even one that spans tokens and steps. Multi-byte characters split across tokens are held by the
/// streaming detokenizer until complete.
/// </summary>
internal sealed class SequenceText
{
    private readonly StreamingDetokenizer _detokenizer;
    private readonly IReadOnlyList<string> _stops;
    private readonly int _maxStop;
    private readonly StringBuilder _text = new();

    public SequenceText(StreamingDetokenizer detokenizer, IReadOnlyList<string> stops)
    {
        _detokenizer = detokenizer;
        _stops = stops;
        foreach (string s in stops)
            _maxStop = Math.Max(_maxStop, s.Length);
    }

    /// <summary>Text streamed so far (the concatenation of every delta taken).</summary>
    public string Streamed { get; private set; } = "";

    /// <summary>Generated tokens and logprob entries already reported in a delta.</summary>
    public int TokensReported { get; set; }

    public int LogprobsReported { get; set; }

    /// <summary>Adds a generated token's text (and the detokenizer's remainder when it is the last); returns the stop string that now occurs, if any.</summary>
    public string? Append(int token, bool last)
    {
        string delta = _detokenizer.Append(token);
        if (last)
            delta += _detokenizer.Flush();
        return Add(delta);
    }

    /// <summary>Ends the text without the last token's own text (an end-of-sequence or stop token id).</summary>
    public string? Flush() => Add(_detokenizer.Flush());

    private string? Add(string delta)
    {
        int old = _text.Length;
        _text.Append(delta);
        if (delta.Length == 0 || _maxStop == 0)
            return null;

        // No stop string occurs in the text before this delta, so a new occurrence ends inside the delta. The text
        // is cut at the earliest occurrence of any stop string (two may complete in one token), so none remains.
        int from = Math.Max(0, old - _maxStop + 1);
        string window = _text.ToString(from, _text.Length - from);
        string? found = null;
        int first = int.MaxValue;
        foreach (string stop in _stops)
        {
            int at = window.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && at < first)
            {
                first = at;
                found = stop;
            }
        }

        if (found is not null)
            _text.Length = from + first;
        return found;
    }

    /// <summary>The text that may be streamed now: everything once <paramref name="final"/>, else all but a tail that could begin a stop string.</summary>
    public string TakeDelta(bool final)
    {
        int end = _text.Length;
        if (!final)
        {
            end -= HeldBack();
            if (end > 0 && char.IsHighSurrogate(_text[end - 1]))
                end--; // never split a surrogate pair between two deltas
        }

        if (end <= Streamed.Length)
            return "";
        string delta = _text.ToString(Streamed.Length, end - Streamed.Length);
        Streamed += delta;
        return delta;
    }

    /// <summary>Length of the longest unstreamed suffix that is a proper prefix of a stop string.</summary>
    private int HeldBack()
    {
        int n = _text.Length;
        for (int k = Math.Min(_maxStop - 1, n - Streamed.Length); k > 0; k--)
        {
            foreach (string stop in _stops)
            {
                if (k < stop.Length && SuffixIsPrefixOf(stop, k))
                    return k;
            }
        }

        return 0;
    }

    private bool SuffixIsPrefixOf(string stop, int k)
    {
        int start = _text.Length - k;
        for (int i = 0; i < k; i++)
        {
            if (_text[start + i] != stop[i])
                return false;
        }

        return true;
    }
}
