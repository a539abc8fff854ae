using System.Text.RegularExpressions;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>Pre-tokenizer steps and added-token matching against the examples in HF tokenizers' documentation.</summary>
[TestClass]
public sealed class PreTokenizerTests
{
    private static string Split(PreTokenizerStep step, string text, bool atStart = true) =>
        string.Join("|", step.Split(new TextPiece(text, atStart)).Select(p => p.Text));

    /// <summary>tokenizers' SplitDelimiterBehavior docs: "the-final--countdown" split on '-'.</summary>
    [TestMethod]
    [DataRow("Removed", "the|final|countdown")]
    [DataRow("Isolated", "the|-|final|-|-|countdown")]
    [DataRow("MergedWithPrevious", "the-|final-|-|countdown")]
    [DataRow("MergedWithNext", "the|-final|-|-countdown")]
    [DataRow("Contiguous", "the|-|final|--|countdown")]
    public void Split_behaviors_follow_tokenizers(string behavior, string expected)
    {
        var step = new RegexSplitStep(new Regex("-"), Enum.Parse<SplitBehavior>(behavior), invert: false);
        Assert.AreEqual(expected, Split(step, "the-final--countdown"));
    }

    [TestMethod]
    public void Inverted_split_keeps_the_matches()
    {
        // Whitespace pre-tokenizer: \w+|[^\w\s]+ with invert, gaps (whitespace) removed.
        var step = new RegexSplitStep(new Regex(@"\w+|[^\w\s]+"), SplitBehavior.Removed, invert: true);
        Assert.AreEqual("Hey|friend|!|How|are|you|?!", Split(step, "Hey friend!     How are you?!"));
    }

    [TestMethod]
    public void Gpt2_byte_level_split_and_prefix_space()
    {
        Assert.AreEqual("Hello|,| world|!|   | how", Split(new ByteLevelStep(addPrefixSpace: false, useRegex: true), "Hello, world!    how"));
        Assert.AreEqual(" Hello| there", Split(new ByteLevelStep(addPrefixSpace: true, useRegex: true), "Hello there"));
        Assert.AreEqual(" x", Split(new ByteLevelStep(addPrefixSpace: true, useRegex: false), " x"));
    }

    [TestMethod]
    public void Metaspace_prepends_per_scheme_and_splits_before_the_marker()
    {
        Assert.AreEqual("▁Hey|▁friend", Split(new MetaspaceStep('▁', "always", split: true), "Hey friend"));
        Assert.AreEqual("▁Hey▁friend", Split(new MetaspaceStep('▁', "always", split: false), "Hey friend"));
        Assert.AreEqual("after", Split(new MetaspaceStep('▁', "first", split: false), "after", atStart: false));
        Assert.AreEqual("▁first", Split(new MetaspaceStep('▁', "first", split: false), "first"));
        Assert.AreEqual("x▁y", Split(new MetaspaceStep('▁', "never", split: false), "x y"));
    }

    [TestMethod]
    public void Added_tokens_match_leftmost_longest_with_strip_and_word_rules()
    {
        var matcher = new AddedTokenMatcher(
        [
            new AddedToken(1, "<a>", Special: true),
            new AddedToken(2, "<a><b>", Special: true),
            new AddedToken(3, "[M]", Special: true, LStrip: true, RStrip: true),
            new AddedToken(4, "cat", Special: false, SingleWord: true),
        ]);
        string Show(string text) => string.Join("|", matcher.Split(text).Select(s => s.Id >= 0 ? $"#{s.Id}" : s.Text));
        Assert.AreEqual("x|#2|#1|y", Show("x<a><b><a>y"));
        Assert.AreEqual("a|#3|b", Show("a  [M]  b"));
        Assert.AreEqual("concatenate |#4| catcat", Show("concatenate cat catcat"), "single_word matches whole words only");
    }
}
