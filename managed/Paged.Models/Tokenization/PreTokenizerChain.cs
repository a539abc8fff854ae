using System.Text.RegularExpressions;

namespace Paged.Models.Tokenization;

/// <summary>How a Split pre-tokenizer treats the delimiters it finds (HF SplitDelimiterBehavior).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>One piece of text between pre-tokenization steps; <paramref name="AtInputStart"/> is true for text at offset 0 of the whole input.</summary>
internal readonly record struct TextPiece(string Text, bool AtInputStart);

/// <summary>One HF pre-tokenizer step: turns each piece into smaller pieces.</summary>
internal abstract class PreTokenizerStep
{
    public abstract IEnumerable<TextPiece> Split(TextPiece piece);
}

/// <summary>Split: a regex (or literal) whose matches are delimiters, or with <c>invert</c> the pieces to keep.</summary>
internal sealed class RegexSplitStep(Regex pattern, SplitBehavior behavior, bool invert) : PreTokenizerStep
{
    public override IEnumerable<TextPiece> Split(TextPiece piece)
    {
        string text = piece.Text;
        var parts = new List<(int Start, int Length, bool Delimiter)>();
        int last = 0;
        foreach (Match m in pattern.Matches(text))
        {
            if (m.Length == 0)
            {
                continue;
            }

            if (m.Index > last)
            {
                parts.Add((last, m.Index - last, invert));
            }

            parts.Add((m.Index, m.Length, !invert));
            last = m.Index + m.Length;
        }

        if (last < text.Length)
        {
            parts.Add((last, text.Length - last, invert));
        }

        return Combine(piece, parts);
    }

    // Mirrors tokenizers' NormalizedString::split for each delimiter behavior.
    private IEnumerable<TextPiece> Combine(TextPiece piece, List<(int Start, int Length, bool Delimiter)> parts)
    {
        if (behavior == SplitBehavior.MergedWithNext)
        {
            parts.Reverse();
        }

        var result = new List<(int Start, int End)>();
        bool previousDelimiter = false;
        foreach (var (start, length, delimiter) in parts)
        {
            int end = start + length;
            bool merge = behavior switch
            {
                SplitBehavior.Removed when delimiter => false,
                SplitBehavior.MergedWithPrevious or SplitBehavior.MergedWithNext => delimiter && !previousDelimiter && result.Count > 0,
                SplitBehavior.Contiguous => delimiter && previousDelimiter && result.Count > 0,
                _ => false,
            };
            if (merge)
            {
                result[^1] = behavior == SplitBehavior.MergedWithNext ? (start, result[^1].End) : (result[^1].Start, end);
            }
            else if (!(behavior == SplitBehavior.Removed && delimiter))
            {
                result.Add((start, end));
            }

            previousDelimiter = delimiter;
        }

        if (behavior == SplitBehavior.MergedWithNext)
        {
            result.Reverse();
        }

        return result.Select(r => new TextPiece(piece.Text[r.Start..r.End], piece.AtInputStart && r.Start == 0));
    }
}

/// <summary>ByteLevel: optional prefix space, optional GPT-2 regex split. The byte mapping itself is applied by the model.</summary>
internal sealed class ByteLevelStep(bool addPrefixSpace, bool useRegex) : PreTokenizerStep
{
    /// <summary>GPT-2's split pattern, used by ByteLevel with use_regex: true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly RegexSplitStep Gpt2Split = new(
        new Regex(Gpt2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled), SplitBehavior.Isolated, invert: false);

    public override IEnumerable<TextPiece> Split(TextPiece piece)
    {
        if (addPrefixSpace && !piece.Text.StartsWith(' '))
        {
            piece = piece with { Text = " " + piece.Text };
        }

        return useRegex ? Gpt2Split.Split(piece) : [piece];
    }
}

/// <summary>Metaspace: spaces become the replacement character (U+2581), prefixed per the prepend scheme, optionally split before it.</summary>
internal sealed class MetaspaceStep(char replacement, string prependScheme, bool split) : PreTokenizerStep
{
    public override IEnumerable<TextPiece> Split(TextPiece piece)
    {
        string text = piece.Text.Replace(' ', replacement);
        bool prepend = prependScheme switch
        {
            "always" => true,
            "first" => piece.AtInputStart,
            _ => false,
        };
        if (prepend && !text.StartsWith(replacement))
        {
            text = replacement + text;
        }

        if (!split)
        {
            return [piece with { Text = text }];
        }

        var pieces = new List<TextPiece>();
        int start = 0;
        for (int i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == replacement)
            {
                pieces.Add(new TextPiece(text[start..i], piece.AtInputStart && start == 0));
                start = i;
            }
        }

        return pieces;
    }
}

/// <summary>A sequence of pre-tokenizer steps; the output pieces are the words the BPE model encodes one by one.</summary>
internal sealed class PreTokenizerChain(IReadOnlyList<PreTokenizerStep> steps)
{
    public List<TextPiece> Split(TextPiece input)
    {
        var pieces = new List<TextPiece> { input };
        foreach (var step in steps)
        {
            pieces = [.. pieces.SelectMany(step.Split).Where(p => p.Text.Length > 0)];
        }

        return pieces;
    }
}
