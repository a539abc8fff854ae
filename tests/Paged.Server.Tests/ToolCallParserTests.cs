using Paged.Server.Tools;

namespace Paged.Server.Tests;

/// <summary>
/// The tool-call parsers on their own: whole outputs, the same outputs streamed in every split into two pieces and
/// one character at a time (the streamed pieces must add up to the non-streamed answer), and invalid calls kept as text.
/// </summary>
[TestClass]
public sealed class ToolCallParserTests
{
    private const string Weather = "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}";

    [TestMethod]
    public void HermesOneCallAfterText()
    {
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, $"Let me check.\n<tool_call>\n{Weather}\n</tool_call>");
        Assert.AreEqual("Let me check.\n", content);
        Assert.HasCount(1, calls);
        Assert.AreEqual("get_weather", calls[0].Name);
        Assert.AreEqual("{\"city\": \"Paris\", \"unit\": \"c\"}", calls[0].Arguments);
    }

    [TestMethod]
    public void HermesSeveralCallsAndNoContent()
    {
        string text = $"<tool_call>{Weather}</tool_call>\n<tool_call>{{\"name\": \"get_time\", \"arguments\": {{}}}}</tool_call>";
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, text);
        Assert.IsNull(content, "only blanks outside the calls");
        CollectionAssert.AreEqual(new[] { "get_weather", "get_time" }, calls.Select(c => c.Name).ToArray());
        Assert.AreEqual("{}", calls[1].Arguments);
    }

    [TestMethod]
    public void HermesArgumentsGivenAsAJsonStringOrMissing()
    {
        var (_, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call><tool_call>{\"name\": \"g\"}</tool_call>");
        Assert.AreEqual("{\"a\": 1}", calls[0].Arguments);
        Assert.AreEqual("{}", calls[1].Arguments);
    }

    [TestMethod]
    public void HermesUnclosedLastCallStillCounts()
    {
        // max_tokens or a stop string can cut the closing tag.
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, $"<tool_call>\n{Weather}\n");
        Assert.IsNull(content);
        Assert.HasCount(1, calls);
    }

    [TestMethod]
    [DataRow("<tool_call>{\"name\": \"f\", \"arguments\": {</tool_call>")] // bad JSON
    [DataRow("<tool_call>{\"arguments\": {}}</tool_call>")] // no name
    [DataRow("<tool_call>{\"name\": 3}</tool_call>")] // name not a string
    [DataRow("<tool_call>[1, 2]</tool_call>")] // not an object
    [DataRow("<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>")] // arguments not an object
    [DataRow("<tool_call>{\"name\": \"f\", \"arguments\": \"not json\"}</tool_call>")]
    [DataRow("<tool_call>{\"name\": \"f\"")] // unclosed and invalid
    [DataRow("a < b and <tool_ca")] // a partial tag at the end is text
    [DataRow("plain text, no calls")]
    public void HermesInvalidCallsAreReturnedAsText(string text)
    {
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, text);
        Assert.IsEmpty(calls);
        Assert.AreEqual(text, content);
    }

    [TestMethod]
    public void HermesBlanksBetweenAndAfterCallsAreDroppedButTextIsKept()
    {
        string call = $"<tool_call>{Weather}</tool_call>";
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, $"Hi\n{call}\n\n{call}\n");
        Assert.AreEqual("Hi\n", content);
        Assert.HasCount(2, calls);
        (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, $"{call}\n and more");
        Assert.AreEqual("\n and more", content);
        Assert.HasCount(1, calls);
    }

    [TestMethod]
    public void HermesAnInvalidBlockBesideAValidOneStaysText()
    {
        string bad = "<tool_call>{oops}</tool_call>";
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Hermes, $"{bad}<tool_call>{Weather}</tool_call>");
        Assert.AreEqual(bad, content);
        Assert.HasCount(1, calls);
    }

    [TestMethod]
    public void Llama3JsonOneOrSeveralCalls()
    {
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Llama3Json, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
        Assert.IsNull(content);
        Assert.AreEqual("get_weather", calls.Single().Name);
        Assert.AreEqual("{\"city\": \"Paris\"}", calls[0].Arguments);

        (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Llama3Json, "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"arguments\": {\"x\": [1, {\"y\": \"}\"}]}}\n");
        Assert.IsNull(content);
        CollectionAssert.AreEqual(new[] { "a", "b" }, calls.Select(c => c.Name).ToArray());
        Assert.AreEqual("{\"x\": [1, {\"y\": \"}\"}]}", calls[1].Arguments);
    }

    [TestMethod]
    [DataRow("The weather is fine.")]
    [DataRow("{\"name\": \"f\", \"parameters\": {}} and then text")]
    [DataRow("{\"name\": \"f\", \"parameters\": {")]
    [DataRow("{\"parameters\": {}}")]
    [DataRow("Sure: {\"name\": \"f\", \"parameters\": {}}")] // JSON not at the start is text in this format
    [DataRow("  <|python")]
    public void Llama3JsonAnythingElseIsText(string text)
    {
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.Llama3Json, text);
        Assert.IsEmpty(calls);
        Assert.AreEqual(text, content);
    }

    [TestMethod]
    public void NoneParsesNothing()
    {
        string text = $"<tool_call>{Weather}</tool_call>";
        var (content, calls) = ToolCallParsing.Parse(ToolCallFormat.None, text);
        Assert.IsEmpty(calls);
        Assert.AreEqual(text, content);
    }

    public static IEnumerable<object[]> StreamCases() =>
    [
        [ToolCallFormat.Hermes, $"Let me check.\n<tool_call>\n{Weather}\n</tool_call>"],
        [ToolCallFormat.Hermes, $"<tool_call>{Weather}</tool_call>\n<tool_call>{{\"name\": \"t\", \"arguments\": {{}}}}</tool_call>"],
        [ToolCallFormat.Hermes, "<tool_call>{bad}</tool_call> then <tool_c and <tool_call"],
        [ToolCallFormat.Hermes, "x <tool_call> y"],
        [ToolCallFormat.Hermes, $"<tool_call>{Weather}</tool_call>\n\n  <tool_call>{Weather}</tool_call>\n then text <tool_call>{Weather}</tool_call> \n"],
        [ToolCallFormat.Hermes, "<<tool_call>{\"name\": \"f\"}</tool_call><"],
        [ToolCallFormat.Hermes, "Übergröße 😀 <tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"é\"}}</tool_call>"],
        [ToolCallFormat.Llama3Json, "{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"k\": 1}}"],
        [ToolCallFormat.Llama3Json, "  <|python_tag|>{\"name\": \"a\", \"parameters\": {}}"],
        [ToolCallFormat.Llama3Json, "Hello {\"name\": \"a\"}"],
        [ToolCallFormat.Llama3Json, "{\"name\": \"a\", \"parameters\": {}} trailing"],
        [ToolCallFormat.Llama3Json, "<|python_taX"],
    ];

    /// <summary>Every two-piece split and one character at a time give the whole-text answer, and text is only released once certain.</summary>
    [TestMethod]
    [DynamicData(nameof(StreamCases))]
    public void StreamingEqualsWholeTextForEverySplit(ToolCallFormat format, string text)
    {
        var expected = ToolCallParsing.Parse(format, text);
        for (int cut = 0; cut <= text.Length; cut++)
            AssertSame(expected, Stream(format, [text[..cut], text[cut..]]), $"split at {cut}");
        AssertSame(expected, Stream(format, text.Select(c => c.ToString())), "one char at a time");
    }

    [TestMethod]
    public void HermesStreamsTextBeforeACallAtOnceAndHoldsOnlyAPartialTag()
    {
        var parser = new ToolCallStreamParser(ToolCallFormat.Hermes);
        Assert.AreEqual("Hello ", string.Concat(parser.Feed("Hello <").Select(p => p.Content)), "'<' may start a tag: held");
        Assert.AreEqual("<b", string.Concat(parser.Feed("b").Select(p => p.Content)), "not a tag after all: released");
        Assert.IsEmpty(parser.Feed("<tool_call>{\"name\": \"f\""), "inside a call nothing is released");
        var pieces = parser.Feed("}</tool_call>tail");
        Assert.AreEqual("f", pieces[0].Call!.Name);
        Assert.AreEqual("tail", pieces[1].Content);
        Assert.IsEmpty(parser.Finish());
    }

    private static (string? Content, IReadOnlyList<ParsedToolCall> Calls) Stream(ToolCallFormat format, IEnumerable<string> deltas)
    {
        var parser = new ToolCallStreamParser(format);
        return ToolCallParsing.Collect([.. deltas.SelectMany(parser.Feed), .. parser.Finish()]);
    }

    private static void AssertSame((string? Content, IReadOnlyList<ParsedToolCall> Calls) expected, (string? Content, IReadOnlyList<ParsedToolCall> Calls) actual, string what)
    {
        Assert.AreEqual(expected.Content, actual.Content, what);
        CollectionAssert.AreEqual(expected.Calls.ToList(), actual.Calls.ToList(), what);
    }
}
