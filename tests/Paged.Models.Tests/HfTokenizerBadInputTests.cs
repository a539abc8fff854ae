using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>Malformed tokenizer.json / tokenizer_config.json: a ModelFormatException naming the file and the problem, never a crash.</summary>
[TestClass]
public sealed class HfTokenizerBadInputTests
{
    private static readonly string Source = Path.Combine(TestPaths.HfTiny, "tiny-llama3", "tokenizer.json");

    private static void AssertFails(string dir, string file, string phrase)
    {
        var e = Assert.ThrowsExactly<ModelFormatException>(() => HfTokenizerLoader.Load(dir));
        StringAssert.StartsWith(e.Message, Path.Combine(dir, file));
        Assert.Contains(phrase, e.Message, $"message: {e.Message}");
    }

    /// <summary>A copy of tiny-llama3's tokenizer.json edited by <paramref name="edit"/>.</summary>
    private static void WriteEdited(TempDir dir, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(Source))!.AsObject();
        edit(json);
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
    }

    [TestMethod]
    [DataRow("missing model", "model", "tokenizer.json has no \"model\"")]
    [DataRow("unknown model type", "type", "model type Unigram is not supported")]
    [DataRow("merge of unknown tokens", "merge", "merge \"Ġ zzz\" (rule 0) uses a token that is not in the vocabulary")]
    [DataRow("merge that is a number", "number", "model.merges[0] is 5")]
    [DataRow("vocab id that is a string", "vocab", "model.vocab[\"!\"] should be a non-negative id")]
    [DataRow("possessive regex", "regex", "is not supported by .NET regular expressions")]
    [DataRow("unknown pre-tokenizer", "pre", "pre_tokenizer type BertPreTokenizer is not supported")]
    [DataRow("unknown decoder", "decoder", "decoder type WordPiece is not supported")]
    [DataRow("added token without id", "added", "added_tokens[1] has no \"id\"")]
    public void Malformed_tokenizer_json_is_refused(string what, string edit, string phrase)
    {
        using var dir = new TempDir();
        WriteEdited(dir, json =>
        {
            var model = json["model"]!.AsObject();
            switch (edit)
            {
                case "model": json.Remove("model"); break;
                case "type": model["type"] = "Unigram"; break;
                case "merge": model["merges"]![0] = new JsonArray("Ġ", "zzz"); break;
                case "number": model["merges"]![0] = 5; break;
                case "vocab": model["vocab"]!["!"] = "one"; break;
                case "regex": json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = @"\p{L}++"; break;
                case "pre": json["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" }; break;
                case "decoder": json["decoder"] = new JsonObject { ["type"] = "WordPiece" }; break;
                case "added": json["added_tokens"]![1]!.AsObject().Remove("id"); break;
            }
        });
        AssertFails(dir.Path, "tokenizer.json", phrase);
        Assert.IsNotNull(what);
    }

    [TestMethod]
    public void Invalid_and_truncated_json_are_refused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), "{\"model\": ");
        AssertFails(dir.Path, "tokenizer.json", "not valid JSON");

        byte[] full = File.ReadAllBytes(Source);
        File.WriteAllBytes(dir.File("tokenizer.json"), full[..(full.Length / 2)]);
        AssertFails(dir.Path, "tokenizer.json", "not valid JSON (line");

        File.WriteAllText(dir.File("tokenizer.json"), "[1, 2]");
        AssertFails(dir.Path, "tokenizer.json", "the top level should be an object");
    }

    [TestMethod]
    public void Malformed_tokenizer_config_is_refused()
    {
        using var dir = new TempDir();
        File.Copy(Source, dir.File("tokenizer.json"));
        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"bos_token\": ");
        AssertFails(dir.Path, "tokenizer_config.json", "not valid JSON");

        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"bos_token\": 7}");
        AssertFails(dir.Path, "tokenizer_config.json", "bos_token should be a string or an object with \"content\"");

        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"add_bos_token\": \"yes\"}");
        AssertFails(dir.Path, "tokenizer_config.json", "add_bos_token should be true or false");

        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"eos_token\": \"<|not_there|>\"}");
        AssertFails(dir.Path, "tokenizer.json", "eos_token (tokenizer_config.json) \"<|not_there|>\" is neither an added token nor in the vocabulary");

        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"bos_token\": {\"content\": \"<|begin_of_text|>\"}, \"add_bos_token\": false, \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"}]}");
        var t = HfTokenizerLoader.Load(dir.Path);
        Assert.AreEqual((0, false, "D"), (t.BosId, t.AddsBos, t.ChatTemplate));
        Assert.AreEqual(t.Encode("Hi", addBos: false).Count, t.Encode("Hi", addBos: true).Count, "add_bos_token false overrides the post-processor");
    }

    /// <summary>
    /// Seeded mutations of a real tokenizer.json (truncation, byte flips, deleted and duplicated ranges): each either loads
    /// and encodes, or fails with a ModelFormatException naming the file; nothing else escapes. Bounded in count and time.
    /// </summary>
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Mutated_tokenizer_json_never_crashes()
    {
        byte[] original = File.ReadAllBytes(Source);
        var random = new Random(20261128);
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        var clock = Stopwatch.StartNew();
        int loaded = 0, refused = 0;
        for (int i = 0; i < 300 && clock.Elapsed < TimeSpan.FromSeconds(30); i++)
        {
            byte[] mutated = Mutate(original, random);
            File.WriteAllBytes(path, mutated);
            try
            {
                var tokenizer = HfTokenizerLoader.Load(dir.Path);
                tokenizer.Decode(tokenizer.Encode("Hello <|eot_id|> world 123 🤖", addBos: true), skipSpecialTokens: false);
                loaded++;
            }
            catch (ModelFormatException e)
            {
                StringAssert.StartsWith(e.Message, path, $"mutation {i}");
                refused++;
            }
        }

        Assert.IsTrue(refused > 20, $"only {refused} of {loaded + refused} mutations were refused");
    }

    private static byte[] Mutate(byte[] data, Random random)
    {
        var bytes = new List<byte>(data);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits && bytes.Count > 2; e++)
        {
            int at = random.Next(bytes.Count);
            int length = Math.Min(random.Next(1, 64), bytes.Count - at);
            switch (random.Next(5))
            {
                case 0: bytes.RemoveRange(at, bytes.Count - at); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes.RemoveRange(at, length); break;
                case 3: bytes.InsertRange(at, bytes.GetRange(at, length)); break;
                default: bytes[at] = (byte)"0123456789\"{}[],:-"[random.Next(18)]; break;
            }
        }

        return [.. bytes];
    }
}
