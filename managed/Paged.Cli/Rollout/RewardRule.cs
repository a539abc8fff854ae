using System.Text.RegularExpressions;

namespace Paged.Cli;

/// <summary>A rollout's reward rule: 1 when the completion passes it, else 0.</summary>
internal sealed class RewardRule
{
    private readonly Func<string, string?, double> _score;

    private RewardRule(string name, bool needsAnswer, Func<string, string?, double> score)
    {
        Name = name;
        NeedsAnswer = needsAnswer;
        _score = score;
    }

    public string Name { get; }

    /// <summary>The rule compares with the prompt line's "answer", which must then be present.</summary>
    public bool NeedsAnswer { get; }

    /// <summary>exact, contains or regex:PATTERN (a bad pattern is an <see cref="ArgumentException"/> naming it).</summary>
    public static RewardRule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text == "exact")
            return new(text, true, (c, a) => c.Trim() == a!.Trim() ? 1 : 0);
        if (text == "contains")
            return new(text, true, (c, a) => c.Contains(a!.Trim(), StringComparison.Ordinal) ? 1 : 0);
        if (text.StartsWith("regex:", StringComparison.Ordinal))
        {
            Regex regex;
            try
            {
                regex = new Regex(text["regex:".Length..], RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--reward {text}: not a valid regular expression ({e.Message})", e);
            }

            return new(text, false, (c, _) => regex.IsMatch(c) ? 1 : 0);
        }

        throw new ArgumentException($"--reward must be exact, contains or regex:PATTERN (got '{text}')");
    }

    public double Score(string completion, string? answer) => _score(completion, answer);
}
