using System.Text;

namespace Paged.Engine.Tests;

/// <summary>
/// Follows one request's outputs and checks the streaming contract at every one: each completion's deltas
/// (text, token ids, logprobs) concatenate to its snapshot, streamed text never shows a stop string, and the
/// final output is the last.
/// </summary>
internal sealed class DeltaChecker(IReadOnlyList<string> stops)
{
    private readonly Dictionary<int, StringBuilder> _text = [];
    private readonly Dictionary<int, List<int>> _tokens = [];
    private readonly Dictionary<int, List<int>> _logprobTokens = [];

    public RequestOutput? Final { get; private set; }

    public int Outputs { get; private set; }

    /// <summary>The concatenated text deltas of completion <paramref name="index"/>.</summary>
    public string Streamed(int index) => _text.TryGetValue(index, out var b) ? b.ToString() : "";

    public void Add(RequestOutput output)
    {
        Assert.IsNull(Final, "an output after the final one");
        Outputs++;
        foreach (var c in output.Completions)
        {
            var text = Get(_text, c.Index).Append(c.TextDelta);
            Assert.AreEqual(text.ToString(), c.Text, $"completion {c.Index}: the deltas so far are not the text so far");
            foreach (string stop in stops)
                Assert.DoesNotContain(stop, c.Text, $"completion {c.Index} streamed stop string '{stop}' ({c.FinishReason}, stops [{string.Join("|", stops)}], tokens [{string.Join(",", c.TokenIds)}])");
            var tokens = Get(_tokens, c.Index);
            tokens.AddRange(c.NewTokenIds);
            CollectionAssert.AreEqual(c.TokenIds.ToArray(), tokens.ToArray(), $"completion {c.Index}: new token ids do not add up");
            if (c.NewLogprobs is { } lp)
            {
                var logprobTokens = Get(_logprobTokens, c.Index);
                logprobTokens.AddRange(lp.Select(e => e.TokenId));
                CollectionAssert.AreEqual(c.TokenIds.ToArray(), logprobTokens.ToArray(), $"completion {c.Index}: logprob deltas do not add up");
                Assert.IsNotNull(c.Logprobs);
                Assert.HasCount(c.TokenIds.Count, c.Logprobs);
            }
        }

        Assert.AreEqual(output.Completions[0].Text, output.Text);
        Assert.AreEqual(output.Completions[0].TextDelta, output.TextDelta);
        if (output.Finished)
        {
            Assert.IsTrue(output.Completions.All(c => c.Finished), "a finished request has an unfinished completion");
            Final = output;
        }
    }

    private static T Get<T>(Dictionary<int, T> map, int index)
        where T : new()
    {
        if (!map.TryGetValue(index, out var value))
            map[index] = value = new T();
        return value;
    }
}
