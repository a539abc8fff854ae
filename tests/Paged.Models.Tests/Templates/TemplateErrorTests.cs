using Paged.Models.Templates;

namespace Paged.Models.Tests.Templates;

/// <summary>Bad templates and hostile ones: clear errors with positions, limits instead of hangs or crashes.</summary>
[TestClass]
public sealed class TemplateErrorTests
{
    private static readonly ChatMessage[] OneUser = [new("user", "hi")];

    [TestMethod]
    [DataRow("{% if x %}open", 1, 4, "'if' block is never closed")]
    [DataRow("line one\n{{ 1 + }}", 2, 8, "unexpected")]
    [DataRow("a\nb\n  {% for x of y %}{% endfor %}", 3, 12, "'in'")]
    [DataRow("{{ 'unterminated }}", 1, 4, "unterminated string")]
    [DataRow("{% frobnicate %}", 1, 4, "unknown or unsupported statement 'frobnicate'")]
    [DataRow("{{ (1, 2 }}", 1, 10, "expected ')'")]
    [DataRow("{# never closed", 1, 1, "comment")]
    [DataRow("{{ x ]] }}", 1, 6, "unexpected ']'")]
    public void SyntaxErrorsNameLineAndColumn(string source, int line, int column, string fragment)
    {
        TemplateException e = Assert.ThrowsExactly<TemplateException>(() => new ChatTemplate(source));
        Assert.AreEqual((line, column), (e.Line, e.Column), e.Message);
        StringAssert.Contains(e.Message, fragment);
        StringAssert.StartsWith(e.Message, $"line {line}, column {column}: ");
    }

    [TestMethod]
    public void RaiseExceptionCarriesTheTemplatesMessage()
    {
        var template = new ChatTemplate("{% if messages|length < 2 %}{{ raise_exception('need two messages') }}{% endif %}");
        TemplateException e = Assert.ThrowsExactly<TemplateException>(() => template.Render(OneUser, true));
        Assert.AreEqual("need two messages", e.Message);
        Assert.IsTrue(e.RaisedByTemplate);
    }

    [TestMethod]
    public void RuntimeErrorsNameThePosition()
    {
        var template = new ChatTemplate("ok\n{{ messages[0].content + 1 }}");
        TemplateException e = Assert.ThrowsExactly<TemplateException>(() => template.Render(OneUser, true));
        Assert.AreEqual(2, e.Line);
        StringAssert.Contains(e.Message, "unsupported operand types for +: 'str' and 'int'");
    }

    [TestMethod]
    public void OutputSizeIsBounded()
    {
        var template = new ChatTemplate("{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}");
        var context = new ChatTemplateContext { Limits = new TemplateLimits { MaxOutputChars = 100_000 } };
        TemplateException e = Assert.ThrowsExactly<TemplateException>(() => template.Render(OneUser, true, context));
        StringAssert.Contains(e.Message, "100000 characters");
    }

    [TestMethod]
    public void StringRepetitionIsBounded()
    {
        var template = new ChatTemplate("{{ 'x' * 1000000000 }}");
        StringAssert.Contains(Assert.ThrowsExactly<TemplateException>(() => template.Render(OneUser, true)).Message, "characters");
    }

    [TestMethod]
    public void SilentLoopsAreBoundedBySteps()
    {
        var template = new ChatTemplate("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
        var context = new ChatTemplateContext { Limits = new TemplateLimits { MaxSteps = 1_000_000 } };
        StringAssert.Contains(Assert.ThrowsExactly<TemplateException>(() => template.Render(OneUser, true, context)).Message, "steps");
    }

    [TestMethod]
    public void MacroRecursionIsBounded()
    {
        var template = new ChatTemplate("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        StringAssert.Contains(Assert.ThrowsExactly<TemplateException>(() => template.Render(OneUser, true)).Message, "nested deeper");
    }

    [TestMethod]
    public void DeepNestingIsASyntaxErrorNotAStackOverflow()
    {
        string source = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";
        StringAssert.Contains(Assert.ThrowsExactly<TemplateException>(() => new ChatTemplate(source)).Message, "nested deeper");
        string blocks = string.Concat(Enumerable.Repeat("{% if true %}", 5000)) + string.Concat(Enumerable.Repeat("{% endif %}", 5000));
        StringAssert.Contains(Assert.ThrowsExactly<TemplateException>(() => new ChatTemplate(blocks)).Message, "nested deeper");
    }

    [TestMethod]
    public void DeeplyNestedInputIsRejected()
    {
        object? nested = "leaf";
        for (int i = 0; i < 1000; i++)
        {
            nested = new List<object?> { nested };
        }

        var message = new ChatMessage("user", nested);
        Assert.ThrowsExactly<TemplateException>(() => new ChatTemplate("{{ messages }}").Render([message], false));
    }

    /// <summary>Random edits of a real template must either render or fail with a TemplateException: never another exception, never a hang.</summary>
    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public void MutatedTemplatesFailCleanly()
    {
        string source = File.ReadAllText(Path.Combine(TemplateTestData.Dir, "llama31.jinja"));
        const string Alphabet = "{}%#-+()[]'\".,:|~*/=<>!_ \nabcifnotseldrx0123456789";
        var random = new Random(1234);
        var messages = new ChatMessage[] { new("system", "s"), new("user", "u") };
        var context = new ChatTemplateContext { Limits = new TemplateLimits { MaxSteps = 100_000, MaxOutputChars = 1 << 20 } };
        int rendered = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            char[] chars = source.ToCharArray();
            int edits = 1 + random.Next(4);
            for (int e = 0; e < edits; e++)
            {
                chars[random.Next(chars.Length)] = Alphabet[random.Next(Alphabet.Length)];
            }

            try
            {
                new ChatTemplate(new string(chars)).Render(messages, true, context);
                rendered++;
            }
            catch (TemplateException)
            {
            }
        }

        Assert.IsGreaterThan(0, rendered, "some edits (inside text) still render");
    }
}
