using System.Text;
using Paged.Models.Gguf;
using Paged.Models.Tests.Fuzzing;

namespace Paged.Models.Tests;

/// <summary>
/// GGUF directory errors that byte mutation rarely builds: duplicate tensors and keys, alignments that are not
/// powers of two, dimension counts and element-count overflow, misaligned and overlapping offsets, Q8_0 row
/// lengths, and a tensor of an unsupported type that claims more data than the file holds. Each is refused
/// with a <see cref="ModelFormatException"/> naming the problem, and none allocates by what it claims.
/// </summary>
[TestClass]
public sealed class GgufStructureTests
{
    private static void AssertRefused(GgufTestWriter writer, string phrase, bool atOpen = true)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.gguf");
        writer.Save(path);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.ThrowsExactly<ModelFormatException>(() =>
        {
            var file = GgufFile.Open(path);
            if (atOpen)
                Assert.Fail("GgufFile.Open accepted the file");
            foreach (var t in file.Tensors)
                _ = file.ReadTensor(t);
            _ = GgufModel.Load(file);
        });
        StringAssert.StartsWith(e.Message, path);
        Assert.Contains(phrase, e.Message, $"message: {e.Message}");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.IsLessThan(FuzzSettings.AllocationCap(new FileInfo(path).Length), allocated, "allocation bounded by the file, not by what it claims");
    }

    private static GgufTestWriter Small() => new GgufTestWriter().String("general.architecture", "test");

    [TestMethod]
    public void Duplicate_tensor_is_refused() =>
        AssertRefused(Small().TensorF32("a", [4], new float[4]).TensorF32("a", [4], new float[4]), "tensor a appears twice");

    [TestMethod]
    public void Duplicate_key_is_refused() =>
        AssertRefused(Small().UInt32("k", 1).UInt32("k", 2), "metadata key k appears twice");

    [TestMethod]
    [DataRow(0u)]
    [DataRow(3u)]
    [DataRow(48u)]
    [DataRow(1u << 21)]
    public void Alignment_that_is_not_a_power_of_two_is_refused(uint alignment) =>
        AssertRefused(Small().UInt32("general.alignment", alignment), $"general.alignment {alignment} is not a power of two");

    [TestMethod]
    public void Alignment_of_another_type_is_refused() =>
        AssertRefused(Small().String("general.alignment", "32"), "general.alignment 32 is not a power of two");

    [TestMethod]
    public void Non_default_power_of_two_alignment_is_honoured()
    {
        using var dir = new TempDir();
        string path = dir.File("a64.gguf");
        var w = Small().UInt32("general.alignment", 64).TensorF32("a", [3], [1, 2, 3]).TensorF32("b", [2], [4, 5]);
        w.Alignment = 64;
        w.Save(path);
        var g = GgufFile.Open(path);
        Assert.AreEqual(64, g.Alignment);
        Assert.AreEqual(0, g.DataOffset % 64);
        CollectionAssert.AreEqual(new float[] { 4, 5 }, g.ReadTensor(g.FindTensor("b")!));
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(5)]
    public void Dimension_count_outside_1_to_4_is_refused(int dims) =>
        AssertRefused(Small().Tensor("t", new long[dims].Select(_ => 1L).ToArray(), 0, new byte[4]), $"tensor t has {dims} dimensions");

    [TestMethod]
    [DataRow(new long[] { 0 }, "unusable dimension 0")]
    [DataRow(new long[] { 1L << 32 }, "unusable dimension 4294967296")]
    [DataRow(new long[] { 65536, 65536 }, "unusable dimension 65536")]
    [DataRow(new long[] { 2, 1 << 30, 2 }, "more than 2147483647 elements")]
    public void Dimension_overflow_is_refused(long[] dims, string phrase) =>
        AssertRefused(Small().Tensor("t", dims, 0, new byte[32]), phrase);

    [TestMethod]
    [DataRow(4L)]
    [DataRow(1L)]
    public void Misaligned_offset_is_refused(long delta) =>
        AssertRefused(Small().TensorF32("a", [8], new float[8]).TensorF32("b", [8], new float[8]).ShiftOffset("b", delta),
            "tensor b offset " + (32 + delta) + " is not a multiple of the alignment 32");

    [TestMethod]
    public void Overlapping_tensors_are_refused() =>
        AssertRefused(Small().TensorF32("a", [16], new float[16]).TensorF32("b", [16], new float[16]).ShiftOffset("b", -32),
            "tensor b data (offset 32, 64 bytes) overlaps tensor a");

    [TestMethod]
    [DataRow(48L)]
    [DataRow(16L)]
    public void Q8_0_row_length_not_a_multiple_of_32_is_refused(long rowLength) =>
        AssertRefused(Small().Tensor("q", [rowLength, 2], 8, new byte[34 * 4]), $"tensor q is Q8_0 but its row length {rowLength} is not a multiple of 32");

    [TestMethod]
    public void Q8_0_data_past_the_end_is_refused() =>
        AssertRefused(Small().Tensor("q", [32, 4], 8, new byte[34 * 2]), "extends past the end");

    [TestMethod]
    public void Unsupported_type_claiming_two_billion_elements_fails_without_allocating_them() =>
        AssertRefused(Small().Tensor("huge", [1 << 15, (1 << 16) - 1], 12, new byte[64]), "has type Q4_K (12), which is not supported", atOpen: false);

    [TestMethod]
    public void Unknown_type_id_is_refused_when_read() =>
        AssertRefused(Small().Tensor("odd", [4], 999, new byte[64]), "has type 999 (999), which is not supported", atOpen: false);

    [TestMethod]
    public void Metadata_nested_too_deeply_is_refused() =>
        AssertRefused(Small().Raw("deep", w =>
        {
            w.Write(9u);
            for (int level = 0; level < 5; level++)
            {
                w.Write(9u);
                w.Write(1UL);
            }

            w.Write(4u);
            w.Write(1UL);
            w.Write(7u);
        }), "nested too deeply");

    [TestMethod]
    [DataRow(13u, "unknown metadata value type 13")]
    [DataRow(uint.MaxValue, "unknown metadata value type 4294967295")]
    public void Unknown_metadata_type_is_refused(uint type, string phrase) =>
        AssertRefused(Small().Raw("k", w => { w.Write(type); w.Write(0u); }), phrase);

    [TestMethod]
    public void Array_and_string_lengths_beyond_the_file_are_refused()
    {
        AssertRefused(Small().Raw("big", w => { w.Write(9u); w.Write(10u); w.Write(ulong.MaxValue / 2); }), "array length is 9223372036854775807");
        AssertRefused(Small().Raw("s", w => { w.Write(8u); w.Write(1UL << 40); w.Write(Encoding.UTF8.GetBytes("abc")); }), "string length is 1099511627776");
    }

    [TestMethod]
    public void Model_whose_metadata_claims_huge_shapes_is_refused_before_allocating()
    {
        // A tiny file whose llama.* metadata describes a 65536-wide, 1024-layer model: the tensor directory
        // disagrees, and the loader must say so before allocating the claimed weights (tens of GiB).
        var w = new GgufTestWriter()
            .String("general.architecture", "llama")
            .UInt32("llama.embedding_length", 1 << 16)
            .UInt32("llama.feed_forward_length", 1 << 18)
            .UInt32("llama.block_count", 1024)
            .UInt32("llama.attention.head_count", 512)
            .UInt32("llama.context_length", 4096)
            .TensorF32("token_embd.weight", [8, 300], new float[2400]);
        AssertRefused(w, "tensor token_embd.weight has shape [8, 300] but the model config needs [65536, 300]", atOpen: false);
    }

    [TestMethod]
    public void Model_whose_tensors_have_an_unsupported_type_is_refused_before_allocating()
    {
        // Shapes agree with the metadata, but a Q4_K tensor's size is unknown to this reader, so nothing checked
        // that its 128 Mi elements are in the file: the loader must refuse the type before allocating 512 MiB.
        var w = new GgufTestWriter()
            .String("general.architecture", "llama")
            .UInt32("llama.embedding_length", 4096)
            .UInt32("llama.feed_forward_length", 11008)
            .UInt32("llama.block_count", 1)
            .UInt32("llama.attention.head_count", 32)
            .UInt32("llama.context_length", 4096)
            .Tensor("token_embd.weight", [4096, 32768], 12, new byte[64]);
        AssertRefused(w, "tensor token_embd.weight has type Q4_K (12), which is not supported", atOpen: false);
    }
}
