using System.Text;

namespace Paged.Models.Tokenization;

/// <summary>The HF normalizers a BPE tokenizer.json uses (Sequence of Prepend, Replace, NFC/NFD/NFKC/NFKD, Lowercase, Strip).</summary>
internal sealed class TextNormalizer(IReadOnlyList<Func<string, string>> steps)
{
    public static readonly TextNormalizer None = new([]);

    public string Apply(string text)
    {
        foreach (var step in steps)
        {
            text = step(text);
        }

        return text;
    }

    /// <summary>Prepend adds its text only to non-empty input, as tokenizers' Prepend normalizer does.</summary>
    public static Func<string, string> Prepend(string prefix) => s => s.Length == 0 ? s : prefix + s;

    public static Func<string, string> Replace(string pattern, string content) => s => s.Replace(pattern, content, StringComparison.Ordinal);

    public static Func<string, string> Unicode(NormalizationForm form) => s => s.Normalize(form);

    public static Func<string, string> Lowercase() => s => s.ToLowerInvariant();

    public static Func<string, string> Strip(bool left, bool right) => s => (left, right) switch
    {
        (true, true) => s.Trim(),
        (true, false) => s.TrimStart(),
        (false, true) => s.TrimEnd(),
        _ => s,
    };
}
