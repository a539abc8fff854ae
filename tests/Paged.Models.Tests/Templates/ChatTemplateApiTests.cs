using Paged.Models.Templates;

namespace Paged.Models.Tests.Templates;

[TestClass]
public sealed class ChatTemplateApiTests
{
    [TestMethod]
    public void RendersPlainMessagesWithTokensToolsAndExtras()
    {
        var template = new ChatTemplate(
            "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
            + "{% if tools %}{{ tools|tojson }}{% endif %}{{ flavor }}{% if add_generation_prompt %}<assistant>{% endif %}{{ eos_token }}");
        var context = new ChatTemplateContext
        {
            BosToken = "<s>",
            EosToken = "</s>",
            Tools = [new Dictionary<string, object?> { ["name"] = "f", ["n"] = 1 }],
            Variables = new Dictionary<string, object?> { ["flavor"] = "~" },
        };
        string text = template.Render([new("system", "S"), new("user", "U")], addGenerationPrompt: true, context);
        Assert.AreEqual("<s><system>S<user>U[{\"name\": \"f\", \"n\": 1}]~<assistant></s>", text);
        Assert.AreEqual("<s><user>U~</s>", template.Render([new("user", "U")], false, context with { Tools = null }));
    }

    [TestMethod]
    public void ToolsAreNoneWhenAbsentAsInTransformers()
    {
        var template = new ChatTemplate("{{ tools is defined }}/{{ tools is none }}/{{ documents is none }}");
        Assert.AreEqual("True/True/True", template.Render([new("user", "x")], false));
    }

    [TestMethod]
    public void MessageFieldsAreVisibleToTheTemplate()
    {
        var template = new ChatTemplate("{% for m in messages %}{{ m.role }}:{{ m.content }}:{{ m.tool_call_id|default('-') }}:{{ 'name' in m }};{% endfor %}");
        var fields = new Dictionary<string, object?> { ["tool_call_id"] = "c1", ["name"] = "f" };
        Assert.AreEqual("user:q:-:False;tool:r:c1:True;", template.Render([new("user", "q"), new("tool", "r", fields)], false));
    }
}
