using Paged.Models;
using Paged.Models.Templates;
using Paged.Models.Tokenization;

namespace Paged.Server.Tests;

/// <summary>Which chat template the server uses, and how its text becomes token ids.</summary>
[TestClass]
public sealed class ChatPromptTests
{
    private static readonly string Gguf = Path.Combine(TestServer.Shared, "models", "stories260K", "stories260K.gguf");

    private static ITokenizer Tokenizer()
    {
        var weights = ModelLoader.Load(TestServer.ModelPath);
        return TokenizerLoader.Load(TestServer.ModelPath, null, weights.Config);
    }

    [TestMethod]
    public void ATemplateFileWinsElseTheDefault()
    {
        string file = Path.Combine(Path.GetTempPath(), $"paged-template-{Guid.NewGuid():N}.jinja");
        File.WriteAllText(file, "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}");
        try
        {
            var (fromFile, source) = ChatPrompt.Select(TestServer.ModelPath, file);
            Assert.AreEqual(file, source);
            Assert.AreEqual("[user]hi", fromFile.Render([new ChatMessage("user", "hi")], false));
        }
        finally
        {
            File.Delete(file);
        }

        // Neither the llama2.c checkpoint nor this GGUF carries tokenizer.chat_template.
        Assert.AreEqual(ChatPrompt.DefaultTemplate, ChatPrompt.Select(TestServer.ModelPath, null).Template.Source);
        Assert.AreEqual(ChatPrompt.DefaultTemplate, ChatPrompt.Select(Gguf, null).Template.Source);

        // A checkpoint directory whose tokenizer has no template (make-model's random HF output) gets the default
        // too; it used to fail as "file not found" while probing the directory for a GGUF header.
        string dir = Directory.CreateTempSubdirectory("paged-hf-").FullName;
        try
        {
            Assert.AreEqual(ChatPrompt.DefaultTemplate, ChatPrompt.Select(dir, null).Template.Source);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void ABrokenTemplateFileIsAnErrorNamingIt()
    {
        string file = Path.Combine(Path.GetTempPath(), $"paged-template-{Guid.NewGuid():N}.jinja");
        File.WriteAllText(file, "{% for m in messages %}unclosed");
        try
        {
            var e = Assert.ThrowsExactly<ArgumentException>(() => ChatPrompt.Select(TestServer.ModelPath, file));
            StringAssert.Contains(e.Message, file);
            StringAssert.Contains(e.Message, "line 1");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void DefaultTemplateTextAndSpecialTokenIds()
    {
        var tokenizer = Tokenizer();
        var chat = new ChatPrompt(new ChatTemplate(ChatPrompt.DefaultTemplate), tokenizer);
        string text = chat.Template.Render(
            [new ChatMessage("system", " Be kind. "), new ChatMessage("user", "Hi"), new ChatMessage("assistant", "Hello"), new ChatMessage("user", "Story?")],
            addGenerationPrompt: true,
            new ChatTemplateContext { BosToken = ChatPrompt.BosText, EosToken = ChatPrompt.EosText });
        Assert.AreEqual("<s>Be kind.\n\nUser: Hi\nAssistant: Hello</s>\nUser: Story?\nAssistant:", text);

        var ids = chat.Encode(text);
        Assert.AreEqual(tokenizer.BosId, ids[0]);
        int eos = ids.IndexOf(tokenizer.EosId);
        Assert.IsGreaterThan(0, eos, "</s> became the EOS id");
        CollectionAssert.AreEqual(tokenizer.Encode("Be kind.\n\nUser: Hi\nAssistant: Hello", addBos: false).ToArray(), ids.Skip(1).Take(eos - 1).ToArray());
        CollectionAssert.AreEqual(tokenizer.Encode("\nUser: Story?\nAssistant:", addBos: false).ToArray(), ids.Skip(eos + 1).ToArray());
    }
}
