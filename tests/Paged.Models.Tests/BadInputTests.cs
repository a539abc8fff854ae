using System.Buffers.Binary;
using Paged.Models.Gguf;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

[TestClass]
public sealed class BadInputTests
{
    private static void AssertFails(Action load, string path, string phrase)
    {
        var e = Assert.ThrowsExactly<ModelFormatException>(load);
        StringAssert.StartsWith(e.Message, path);
        Assert.Contains(phrase, e.Message, $"message: {e.Message}");
    }

    private static string WriteCopy(TempDir dir, string name, byte[] bytes)
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestMethod]
    [DataRow(0, "shorter than the 28-byte")]
    [DataRow(12, "shorter than the 28-byte")]
    [DataRow(27, "shorter than the 28-byte")]
    [DataRow(28, "truncated")]
    [DataRow(5000, "truncated")]
    [DataRow(1056539, "truncated")]
    public void Truncated_bin_is_refused(int length, string phrase)
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(TestPaths.Bin)[..length];
        string path = WriteCopy(dir, "cut.bin", bytes);
        AssertFails(() => ModelLoader.Load(path), path, phrase);
        AssertFails(() => Llama2cCheckpoint.Load(path), path, phrase);
    }

    [TestMethod]
    public void Truncated_bin_message_names_sizes()
    {
        using var dir = new TempDir();
        string path = WriteCopy(dir, "cut.bin", File.ReadAllBytes(TestPaths.Bin)[..1000]);
        AssertFails(() => ModelLoader.Load(path), path, "file is 1000 bytes but the header (LlamaForCausalLM: dim 64, hidden 172, 5 layers");
        AssertFails(() => ModelLoader.Load(path), path, "needs 1056540 bytes; the file is truncated");
    }

    [TestMethod]
    public void Trailing_garbage_is_refused()
    {
        using var dir = new TempDir();
        string path = WriteCopy(dir, "long.bin", [.. File.ReadAllBytes(TestPaths.Bin), 1, 2, 3, 4]);
        AssertFails(() => ModelLoader.Load(path), path, "trailing bytes");
    }

    [TestMethod]
    [DataRow(0, -64, "dim is -64")]
    [DataRow(0, 0, "dim is 0")]
    [DataRow(3, 7, "n_heads 7 does not divide dim 64")]
    [DataRow(4, 3, "n_kv_heads 3 does not divide n_heads 8")]
    [DataRow(3, 64, "head size 1")]
    [DataRow(2, 100000, "n_layers is 100000")]
    public void Corrupted_header_is_refused(int field, int value, string phrase)
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(TestPaths.Bin);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field * 4), value);
        string path = WriteCopy(dir, "bad-header.bin", bytes);
        AssertFails(() => ModelLoader.Load(path), path, phrase);
    }

    [TestMethod]
    public void NaN_weight_is_refused_naming_the_tensor()
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(TestPaths.Bin);
        // Second float of layer 0's wq: after header, embedding (512*64) and attention norms (5*64).
        int offset = 28 + 4 * (512 * 64 + 5 * 64 + 1);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), float.NaN);
        string path = WriteCopy(dir, "nan.bin", bytes);
        AssertFails(() => ModelLoader.Load(path), path, "tensor model.layers.0.self_attn.q_proj.weight has a non-finite value");
    }

    [TestMethod]
    public void Missing_file_is_reported()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N") + ".bin");
        AssertFails(() => ModelLoader.Load(path), path, "file not found");
    }

    [TestMethod]
    [DataRow(3, "file ends")]
    [DataRow(20, "tensor count is 48, more than the 4 remaining bytes can hold")]
    [DataRow(200, "truncated")]
    [DataRow(2000, "truncated")]
    [DataRow(100000, "truncated")]
    [DataRow(1185375, "truncated")]
    public void Truncated_gguf_is_refused(int length, string phrase)
    {
        using var dir = new TempDir();
        string path = WriteCopy(dir, "cut.gguf", File.ReadAllBytes(TestPaths.Gguf)[..length]);
        if (length < 4)
        {
            // Too short for the magic: it is not recognised as GGUF and the llama2.c loader refuses it.
            AssertFails(() => ModelLoader.Load(path), path, "shorter than the 28-byte");
            AssertFails(() => GgufFile.Open(path), path, "bad magic");
            return;
        }

        AssertFails(() => ModelLoader.Load(path), path, phrase);
    }

    [TestMethod]
    public void Wrong_magic_and_version_are_refused()
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(TestPaths.Gguf);
        bytes[0] = (byte)'X';
        string magic = WriteCopy(dir, "magic.gguf", bytes);
        AssertFails(() => GgufFile.Open(magic), magic, "bad magic");
        bytes = File.ReadAllBytes(TestPaths.Gguf);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 1);
        string version = WriteCopy(dir, "version.gguf", bytes);
        AssertFails(() => ModelLoader.Load(version), version, "unsupported GGUF version 1");
    }

    private static ModelWeights TinyWeights(TempDir dir)
    {
        var config = new ModelConfig { Dim = 16, HiddenDim = 32, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = 300, MaxSeqLen = 32 };
        string path = dir.File("tiny.bin");
        RandomModelWriter.WriteLlama2c(path, config, 7);
        return Llama2cCheckpoint.Load(path);
    }

    [TestMethod]
    public void Gguf_tensor_with_wrong_shape_is_refused()
    {
        using var dir = new TempDir();
        var w = TinyWeights(dir);
        string path = dir.File("shape.gguf");
        // Same element count, transposed: [kv_dim, dim] instead of [dim, kv_dim].
        GgufTestWriter.FromWeights(w, (name, dims) => name == "blk.1.attn_k.weight" ? [dims[1], dims[0]] : dims).Save(path);
        AssertFails(() => ModelLoader.Load(path), path, "tensor model.layers.1.self_attn.k_proj.weight has shape [16, 8] but the config");
    }

    [TestMethod]
    public void Gguf_missing_tensor_is_refused()
    {
        using var dir = new TempDir();
        var bytes = GgufTestWriter.FromWeights(TinyWeights(dir)).ToBytes();
        // Rename output_norm.weight in the tensor directory (same byte length) so that it is not found.
        int at = bytes.AsSpan().IndexOf("output_norm.weight"u8);
        "outpu_x"u8.CopyTo(bytes.AsSpan(at));
        string path = WriteCopy(dir, "renamed.gguf", bytes);
        AssertFails(() => ModelLoader.Load(path), path, "tensor model.norm.weight is missing");
    }

    [TestMethod]
    public void Gguf_unsupported_tensor_type_is_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("q4k.gguf");
        new GgufTestWriter().String("general.architecture", "test").Tensor("blk.0.attn_q.weight", [256, 1], 12, new byte[144]).Save(path);
        var g = GgufFile.Open(path);
        AssertFails(() => g.ReadTensor(g.Tensors[0]), path, "tensor blk.0.attn_q.weight has type Q4_K (12), which is not supported");
    }

    [TestMethod]
    public void Gguf_unsupported_type_in_a_model_is_refused()
    {
        using var dir = new TempDir();
        var w = TinyWeights(dir);
        var bytes = GgufTestWriter.FromWeights(w).ToBytes();
        // Patch the type field of the first tensor (token_embd.weight): name, n_dims, dims, then type.
        int at = bytes.AsSpan().IndexOf("token_embd.weight"u8) + "token_embd.weight".Length + 4 + 16;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), 12);
        string path = WriteCopy(dir, "typed.gguf", bytes);
        AssertFails(() => ModelLoader.Load(path), path, "tensor token_embd.weight has type Q4_K (12)");
    }

    [TestMethod]
    public void Wrong_tokenizer_is_refused()
    {
        using var dir = new TempDir();
        var w = TinyWeights(dir);
        AssertFails(() => TokenizerLoader.Load(w.SourcePath, TestPaths.Tok512, w.Config), TestPaths.Tok512,
            $"has 512 pieces but model {w.SourcePath} has vocab 300");
        AssertFails(() => Llama2cTokenizerFile.Load(TestPaths.Tok512, 300), TestPaths.Tok512, "has 512 pieces but the model has vocab 300");
        AssertFails(() => TokenizerLoader.Load(w.SourcePath, null, w.Config), w.SourcePath, "pass --tokenizer");
        RandomModelWriter.WriteSyntheticTokenizer(dir.File("tok300.bin"), 300);
        Assert.AreEqual(300, TokenizerLoader.Load(w.SourcePath, null, w.Config).VocabSize);
    }

    [TestMethod]
    [DataRow(2, "too short")]
    [DataRow(100, "only 7 pieces")]
    [DataRow(101, "truncated")]
    [DataRow(6226, "truncated")]
    public void Truncated_tokenizer_is_refused(int length, string phrase)
    {
        using var dir = new TempDir();
        string path = WriteCopy(dir, "tok.bin", File.ReadAllBytes(TestPaths.Tok512)[..length]);
        AssertFails(() => Llama2cTokenizerFile.Load(path, 512), path, phrase);
    }

    [TestMethod]
    public void Negative_piece_length_is_refused()
    {
        using var dir = new TempDir();
        byte[] bytes = File.ReadAllBytes(TestPaths.Tok512);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 + 4), -5);
        string path = WriteCopy(dir, "neg.bin", bytes);
        AssertFails(() => Llama2cTokenizerFile.Load(path, 512), path, "piece 0 has length -5");
    }
}
