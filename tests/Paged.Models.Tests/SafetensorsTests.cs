using System.Buffers.Binary;
using System.Text.Json;
using Paged.Models.Hf;
using Paged.Models.Weights;
using static Paged.Models.Tests.SafetensorsTestFiles;

namespace Paged.Models.Tests;

/// <summary>The safetensors reader and the checkpoint loader on the hf-tiny models, sharded copies and bad input.</summary>
[TestClass]
public sealed class SafetensorsTests
{
    [TestMethod]
    [DataRow("tiny-llama3", 3 * 9 + 3, WeightDType.BF16)]
    [DataRow("tiny-qwen2", 3 * 12 + 2, WeightDType.BF16)]
    [DataRow("tiny-qwen3", 3 * 11 + 2, WeightDType.F32)]
    [DataRow("tiny-mistral", 3 * 9 + 3, WeightDType.F32)]
    public void Tiny_checkpoints_load_with_every_tensor(string model, int count, WeightDType dtype)
    {
        using var w = ModelLoader.Load(Tiny(model));
        Assert.HasCount(count, w.AllTensors);
        Assert.IsTrue(w.AllTensors.All(t => t.DType == dtype));
        w.CheckTensors();
    }

    [TestMethod]
    public void Bf16_widening_matches_a_scalar_decode_of_the_raw_bytes()
    {
        // Independent of the loader: parse the header with JsonDocument and decode each bf16 with a shift.
        string path = Path.Combine(Tiny("tiny-llama3"), "model.safetensors");
        byte[] file = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(file);
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
        var entry = doc.RootElement.GetProperty("model.layers.1.mlp.up_proj.weight");
        long begin = entry.GetProperty("data_offsets")[0].GetInt64(), end = entry.GetProperty("data_offsets")[1].GetInt64();
        var expected = new float[(end - begin) / 2];
        for (int i = 0; i < expected.Length; i++)
            expected[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)(8 + n + begin + (2 * i)))) << 16);
        using var w = ModelLoader.Load(Tiny("tiny-llama3"));
        var actual = w.Find("model.layers.1.mlp.up_proj.weight")!.ToArray();
        CollectionAssert.AreEqual(expected, actual);
        Assert.IsGreaterThan(1000, actual.Distinct().Count(), "real data, not a constant");
    }

    [TestMethod]
    public void Small_file_round_trips_every_dtype()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("s.safetensors"), Small());
        using var f = SafetensorsFile.Open(dir.File("s.safetensors"));
        Assert.AreEqual(0, f.DataOffset % 8, "header padded to 8 bytes");
        CollectionAssert.AreEqual(new[] { 1f, -2f, 3.5f, 4f, 5f, 6f }, f.Tensors[0].ToArray());
        CollectionAssert.AreEqual(new[] { 0.5f, -1.25f, 3f }, f.Tensors[1].ToArray());
        CollectionAssert.AreEqual(new[] { 0.25f, 2f }, f.Tensors[2].ToArray());
        Assert.AreEqual(WeightDType.F16, f.Tensors[2].DType);
    }

    [TestMethod]
    public void Bf16_rounding_is_to_nearest_even()
    {
        // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to the even mantissa (1).
        Assert.AreEqual((ushort)0x3F80, Bf16.FromSingle(1f + (1f / 256)));
        Assert.AreEqual((ushort)0x3F82, Bf16.FromSingle(1f + (3f / 256)));
        Assert.AreEqual((ushort)0x3F81, Bf16.FromSingle(1f + (1f / 256) + (1f / 65536)));
        Assert.IsTrue(float.IsNaN(BitConverter.Int32BitsToSingle(Bf16.FromSingle(float.NaN) << 16)));
    }

    [TestMethod]
    public void Sharded_checkpoint_loads_the_same_tensors()
    {
        using var dir = new TempDir();
        CopyCheckpoint(Tiny("tiny-qwen2"), dir.Path, _ => true, shards: 3);
        Assert.HasCount(3, Directory.GetFiles(dir.Path, "model-*-of-00003.safetensors"));
        using var original = ModelLoader.Load(Tiny("tiny-qwen2"));
        using var sharded = ModelLoader.Load(dir.Path);
        Assert.HasCount(original.AllTensors.Count, sharded.AllTensors);
        foreach (var t in original.AllTensors)
            CollectionAssert.AreEqual(t.ToArray(), sharded.Find(t.Name)!.ToArray(), t.Name);
    }

    [TestMethod]
    public void Index_naming_a_path_outside_the_directory_is_refused()
    {
        using var dir = new TempDir();
        CopyCheckpoint(Tiny("tiny-qwen3"), dir.Path, _ => true, shards: 2);
        string index = dir.File(HfCheckpoint.IndexFile);
        File.WriteAllText(index, File.ReadAllText(index).Replace("model-00001-of-00002.safetensors", "../model-00001-of-00002.safetensors", StringComparison.Ordinal));
        var e = Assert.ThrowsExactly<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("not a file name in the checkpoint directory", e.Message);
    }

    private static void AssertBad(byte[] bytes, string phrase)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsExactly<ModelFormatException>(() => SafetensorsFile.Open(path).Dispose());
        StringAssert.StartsWith(e.Message, path);
        Assert.Contains(phrase, e.Message, e.Message);
    }

    private const string F32x2 = """{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}""";

    [TestMethod]
    [DataRow("""{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}""", 8, "outside the 8-byte data section")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}""", 8, "or reversed")]
    [DataRow(F32x2 + """, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", 16, "tensors a [0, 8) and b [4, 12) overlap")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [1000000000000, 1000000000000], "data_offsets": [0, 8]}}""", 8, "is absurd")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}""", 8, "needs 12 bytes but data_offsets [0, 8] hold 8")]
    [DataRow("""{"a": {"dtype": "F17", "shape": [2], "data_offsets": [0, 8]}}""", 8, "unknown dtype F17")]
    [DataRow("""{"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}""", 8, "dtype F64; supported weight types are F32, F16 and BF16")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""", 8, "tensor a appears twice")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}""", 8, "not a non-negative integer")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}}""", 8, "not a non-negative integer")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,2], "data_offsets": [0, 8]}}""", 8, "more than 8 entries")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 8]}}""", 8, "more than 2 entries")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}""", 8, "has 1 entries")]
    [DataRow("""{"a": {"shape": [2], "data_offsets": [0, 8]}}""", 8, "tensor a lacks dtype")]
    [DataRow("""{"a": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}}""", 8, "tensor a dtype is Number; expected String")]
    [DataRow("""{"a": [1, 2]}""", 8, "tensor a is StartArray; expected StartObject")]
    [DataRow("""{"__metadata__": {"format": 1}}""", 0, "a __metadata__ value is Number")]
    [DataRow("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}""", 8, "invalid JSON")]
    [DataRow("""{} {}""", 0, "invalid JSON")]
    [DataRow("""not json""", 0, "invalid JSON")]
    public void Corrupt_header_is_a_clear_error(string json, int dataBytes, string phrase) => AssertBad(Raw(json, dataBytes), phrase);

    [TestMethod]
    public void Truncated_or_absurd_length_prefix_is_a_clear_error()
    {
        AssertBad([1, 2, 3], "too short for a safetensors header length");
        byte[] small = Small();
        AssertBad(small[..20], "header length");
        var huge = (byte[])small.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(huge, ulong.MaxValue);
        AssertBad(huge, "safetensors header length 18446744073709551615 is impossible");
        // Cut inside the data section: the last tensor's offsets now pass the end.
        AssertBad(small[..^2], "data_offsets");
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("empty.safetensors"), []);
        var e = Assert.ThrowsExactly<ModelFormatException>(() => SafetensorsFile.Open(dir.File("empty.safetensors")));
        Assert.Contains("file is empty", e.Message);
    }

    [TestMethod]
    public void Missing_tensor_is_named()
    {
        using var dir = new TempDir();
        CopyCheckpoint(Tiny("tiny-qwen2"), dir.Path, name => name != "model.layers.2.self_attn.k_proj.bias");
        var e = Assert.ThrowsExactly<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("tensor model.layers.2.self_attn.k_proj.bias is missing", e.Message);
        StringAssert.StartsWith(e.Message, dir.Path);
    }

    [TestMethod]
    public void Untied_checkpoint_without_lm_head_is_refused()
    {
        using var dir = new TempDir();
        CopyCheckpoint(Tiny("tiny-mistral"), dir.Path, name => name != "lm_head.weight");
        var e = Assert.ThrowsExactly<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("tensor lm_head.weight is missing", e.Message);
    }

    [TestMethod]
    public void Config_that_disagrees_with_tensor_shapes_is_refused()
    {
        using var dir = new TempDir();
        CopyCheckpoint(Tiny("tiny-qwen3"), dir.Path, _ => true);
        string config = dir.File("config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"intermediate_size\": 160", "\"intermediate_size\": 128", StringComparison.Ordinal));
        var e = Assert.ThrowsExactly<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("has shape [160, 64] but the config", e.Message);
        Assert.Contains("needs [128, 64]", e.Message);
    }

    [TestMethod]
    public void Directory_without_weights_or_config_is_refused()
    {
        using var dir = new TempDir();
        var e = Assert.ThrowsExactly<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("directory without config.json", e.Message);
        File.Copy(Path.Combine(Tiny("tiny-qwen3"), "config.json"), dir.File("config.json"));
        e = Assert.ThrowsExactly<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("neither model.safetensors nor model.safetensors.index.json is present", e.Message);
    }
}
