using Paged.Models.Hf;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>
/// A SentencePiece-style vocabulary written as tokenizer.json (what make-model --format hf writes): through our
/// tokenizer.json loader it encodes the multilingual corpus as HF's own Rust tokenizers read the same file, and
/// decodes back to the text. For stories260K's tok512 the ids also equal the llama2.c tokenizer's it came from
/// (itself checked against run.c's golden ids). For make-model's synthetic vocabulary (random-weight benchmarks only)
/// they need not: its pieces are every string over an alphabet, and there our SentencePiece encoder splits some
/// words differently from HF's BPE (on "chat" HF's split is the one run.c's best-score-first rule gives, by hand).
/// </summary>
[TestClass]
public sealed class HfTokenizerWriterTests
{
    private static readonly string[] ExtraLines = ["Once upon a time", "  two  spaces ", "tab\there", "ünïcödé ☃ 😀", "a", ""];

    public static IEnumerable<object[]> Vocabularies =>
    [
        ["tok512"],
        ["synthetic"],
    ];

    [TestMethod]
    [DynamicData(nameof(Vocabularies))]
    public void Written_tokenizer_json_encodes_like_the_source_vocabulary(string vocabulary)
    {
        using var dir = new TempDir();
        SentencePieceTokenizer source;
        if (vocabulary == "tok512")
        {
            source = Llama2cTokenizerFile.Load(Path.Combine(TestPaths.Tok512));
        }
        else
        {
            RandomModelWriter.WriteSyntheticTokenizer(dir.File("synthetic.bin"), 3000);
            source = Llama2cTokenizerFile.Load(dir.File("synthetic.bin"));
        }

        HfTokenizerWriter.Write(dir.Path, source);
        var written = HfTokenizerLoader.Load(dir.Path);
        Assert.AreEqual(source.VocabSize, written.VocabSize);
        Assert.AreEqual((source.BosId, source.EosId), (written.BosId, written.EosId));
        Tokenizers.DotNet.Tokenizer? reference = null;
        try
        {
            reference = new Tokenizers.DotNet.Tokenizer(dir.File("tokenizer.json"));
        }
        catch (DllNotFoundException)
        {
            // HF's native library is missing on this platform: the comparison with our loader still runs.
        }

        using (reference)
        {
            foreach (string line in MultilingualCorpus.Lines.Concat(ExtraLines))
            {
                int[] ours = [.. written.Encode(line, addBos: true)];
                if (vocabulary == "tok512")
                    CollectionAssert.AreEqual(source.Encode(line, addBos: true).ToArray(), ours, $"as the source, \"{line}\"");
                if (reference is not null && line.Length > 0)
                    CollectionAssert.AreEqual(reference.Encode(line).Select(id => (int)id).ToArray(), ours, $"as HF tokenizers, \"{line}\"");
                Assert.AreEqual(source.Decode(ours), written.Decode(ours), $"decode \"{line}\"");
                Assert.AreEqual(line, written.Decode(ours), "round trip");
            }
        }
    }
}
