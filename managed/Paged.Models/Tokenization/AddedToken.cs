namespace Paged.Models.Tokenization;

/// <summary>
/// A tokenizer.json added token: matched in the input before normalization and pre-tokenization. <paramref name="Special"/>
/// ones are skipped when decoding skips special tokens; lstrip/rstrip swallow whitespace beside the match; single_word
/// matches only a whole word.
/// </summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false);

/// <summary>A run of input text: an added token's id, or text for the model (<see cref="Id"/> -1).</summary>
internal readonly record struct TextSegment(int Id, string Text, bool AtInputStart);

/// <summary>Splits text on added tokens, leftmost-longest first (as tokenizers' AddedVocabulary does).</summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public List<TextSegment> Split(string text)
    {
        var segments = new List<TextSegment>();
        int textStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            var match = MatchAt(text, i);
            if (match is null)
            {
                i++;
                continue;
            }

            int start = i;
            int end = i + match.Content.Length;
            if (match.LStrip)
            {
                while (start > textStart && char.IsWhiteSpace(text[start - 1]))
                {
                    start--;
                }
            }

            if (match.RStrip)
            {
                while (end < text.Length && char.IsWhiteSpace(text[end]))
                {
                    end++;
                }
            }

            if (start > textStart)
            {
                segments.Add(new TextSegment(-1, text[textStart..start], textStart == 0));
            }

            segments.Add(new TextSegment(match.Id, match.Content, start == 0));
            textStart = i = end;
        }

        if (textStart < text.Length)
        {
            segments.Add(new TextSegment(-1, text[textStart..], textStart == 0));
        }

        return segments;
    }

    private AddedToken? MatchAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out var candidates))
        {
            return null;
        }

        foreach (var token in candidates)
        {
            if (string.CompareOrdinal(text, i, token.Content, 0, token.Content.Length) == 0
                && (!token.SingleWord || IsWordBoundary(text, i, i + token.Content.Length)))
            {
                return token;
            }
        }

        return null;
    }

    private static bool IsWordBoundary(string text, int start, int end) =>
        (start == 0 || !char.IsLetterOrDigit(text[start - 1])) && (end == text.Length || !char.IsLetterOrDigit(text[end]));
}
