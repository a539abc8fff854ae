using Paged.Models.Gguf;

namespace Paged.Models.Tests;

[TestClass]
public sealed class DequantizationTests
{
    [TestMethod]
    public void F16_Q8_0_and_BF16_dequantize_to_hand_computed_values()
    {
        using var dir = new TempDir();
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800, 65504 = 0x7BFF.
        byte[] f16 = [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38, 0xFF, 0x7B];
        // Q8_0: two blocks of 32. Block 0: d = 0.5 (0x3800), q = -16..15. Block 1: d = 0.25 (0x3400), q = 127, -128, 0...
        var q8 = new byte[68];
        q8[0] = 0x00; q8[1] = 0x38;
        for (int j = 0; j < 32; j++) { q8[2 + j] = unchecked((byte)(sbyte)(j - 16)); }
        q8[34] = 0x00; q8[35] = 0x34;
        q8[36] = 127; q8[37] = 0x80;
        // BF16: 1.0 = 0x3F80, -3.0 = 0xC040.
        byte[] bf16 = [0x80, 0x3F, 0x40, 0xC0];
        string path = dir.File("quant.gguf");
        new GgufTestWriter()
            .String("general.architecture", "test")
            .Tensor("f16", [4], 1, f16)
            .Tensor("q8", [32, 2], 8, q8)
            .Tensor("bf16", [2], 30, bf16)
            .Save(path);
        var g = GgufFile.Open(path);
        CollectionAssert.AreEqual(new[] { 1f, -2f, 0.5f, 65504f }, g.ReadTensor(g.FindTensor("f16")!));
        var q = g.ReadTensor(g.FindTensor("q8")!);
        Assert.HasCount(64, q);
        for (int j = 0; j < 32; j++) { Assert.AreEqual((j - 16) * 0.5f, q[j]); }
        Assert.AreEqual(31.75f, q[32]);
        Assert.AreEqual(-32f, q[33]);
        Assert.IsTrue(q.Skip(34).All(v => v == 0f));
        CollectionAssert.AreEqual(new[] { 1f, -3f }, g.ReadTensor(g.FindTensor("bf16")!));
    }

    [TestMethod]
    public void Metadata_of_all_types_is_read()
    {
        using var dir = new TempDir();
        string path = dir.File("meta.gguf");
        new GgufTestWriter { Version = 2 }
            .UInt32("u32", 7).Float32("f32", 1.5f).String("s", "héllo")
            .Strings("strs", ["a", "▁b"]).Floats("fs", [1f, 2f]).Ints("is", [3, -4])
            .Save(path);
        var g = GgufFile.Open(path);
        Assert.AreEqual(2, g.Version);
        Assert.IsTrue(g.TryGetInt("u32", out int u) && u == 7);
        Assert.AreEqual(1.5f, g.GetFloat("f32"));
        Assert.AreEqual("héllo", g.GetString("s"));
        Assert.AreEqual("a|▁b", string.Join("|", g.GetArray<string>("strs")!));
        Assert.AreEqual("1|2", string.Join("|", g.GetArray<float>("fs")!));
        CollectionAssert.AreEqual(new[] { 3, -4 }, g.GetArray<int>("is"));
        Assert.IsEmpty(g.Tensors);
    }
}
