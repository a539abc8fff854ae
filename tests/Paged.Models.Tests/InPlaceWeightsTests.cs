using Paged.Models.Decoders;
using Paged.Models.Weights;
using Paged.Runtime;

namespace Paged.Models.Tests;

/// <summary>
/// On the CPU backend checkpoint weights are used in place from the memory-mapped file (no second copy): the
/// buffers wrap the mapping, fused projections whose tensors are not back to back in the file run as row blocks,
/// and the model keeps the mapping alive after the loader closes it.
/// </summary>
[TestClass]
public sealed class InPlaceWeightsTests
{
    [TestMethod]
    public void Cpu_uses_a_bf16_checkpoint_in_place()
    {
        using var ctx = Backend.Load("cpu").CreateContext();
        using var loaded = ModelLoader.Load(SafetensorsTestFiles.Tiny("tiny-llama3"));
        using var model = (DecoderModel)ModelRegistry.Create(ctx, loaded, new ModelCapacity(4, 1, 1));
        var w = model.Weights;
        var layer = w.Layers[0];
        Assert.IsTrue(layer.Qkv.W.IsWrappedHostMemory && layer.GateUp.W.IsWrappedHostMemory && layer.Down.W.IsWrappedHostMemory && layer.O.W.IsWrappedHostMemory,
            "projections are views of the mapped file");
        Assert.IsTrue(w.TokenEmbedding.IsWrappedHostMemory, "the embedding table is a view of the mapped file");
        Assert.AreEqual(Runtime.Interop.DType.BF16, w.TokenEmbeddingDType);
        // transformers writes tensors sorted by name (k_proj, o_proj, q_proj, v_proj; gate_proj, up_proj).
        Assert.IsNotNull(layer.Qkv.RowBlocks, "q, k, v are apart in the file: three row blocks");
        CollectionAssert.AreEqual(new[] { model.Config.QDim, model.Config.KvDim, model.Config.KvDim }, layer.Qkv.RowBlocks.Select(b => b.Rows).ToArray());
        Assert.IsNull(layer.GateUp.RowBlocks, "gate_proj and up_proj are back to back: one buffer");
        Assert.IsFalse(layer.AttnNorm.IsWrappedHostMemory, "norm weights are small and widened to f32");
    }

    [TestMethod]
    public void Simt_copies_the_weights()
    {
        if (!Backend.IsAvailable("simt"))
            Assert.Inconclusive("backend 'simt' is not built here");
        using var ctx = Backend.Load("simt").CreateContext();
        using var loaded = ModelLoader.Load(SafetensorsTestFiles.Tiny("tiny-qwen3"));
        using var model = (DecoderModel)ModelRegistry.Create(ctx, loaded, new ModelCapacity(4, 1, 1));
        Assert.IsFalse(model.Weights.Layers[0].Qkv.W.IsWrappedHostMemory);
        Assert.IsFalse(model.Weights.TokenEmbedding.IsWrappedHostMemory);
    }

    [TestMethod]
    [DataRow("tiny-llama3")] // bf16, q/k/v as row blocks
    [DataRow("tiny-qwen3")] // f32 in place
    public void Model_runs_from_the_mapping_after_the_loader_closes(string name)
    {
        var rows = HfReferenceRow.Load(name);
        var results = GreedyDecoder.Run("cpu", SafetensorsTestFiles.Tiny(name), [.. rows.Select(r => r.PromptIds)], 12, 0, closeWeightsAfterCreate: true);
        for (int i = 0; i < rows.Count; i++)
        {
            int n = Math.Min(12, rows[i].TrustedPrefix);
            CollectionAssert.AreEqual(rows[i].OutputIds.AsSpan(0, n).ToArray(), results[i].Tokens.AsSpan(0, n).ToArray(), $"row {i}");
        }
    }

    // q8_0 GGUF weights stay quantized on the cpu (the GEMM and embedding read the blocks in place); the result must
    // match the same model with every tensor dequantized to fp32 on the host. Tolerance 1e-4 on logprobs: the q8_0
    // kernel scales each block's fp32 dot product by d instead of summing d * q products, a different rounding order
    // of fp32 sums over dim 32 / hidden 96 terms of magnitude < 1 (error ~1e-6), amplified little by 2 layers.
    [TestMethod]
    public void Cpu_keeps_q8_0_gguf_weights_quantized()
    {
        using var dir = new TempDir();
        string path = dir.File("q8.gguf");
        var writer = Fuzzing.FuzzSeeds.TinyGguf(dir); // also writes the llama2.c model it converts
        using (var source = Llama2cCheckpoint.Load(dir.File("tiny-for-gguf.bin")))
        {
            writer.Retype("blk.0.ffn_down.weight", (uint)Gguf.GgufTensorType.Q8_0, Fuzzing.FuzzSeeds.Q8(source.Find(WeightNames.Layer(0, WeightNames.Down))!.ToArray()))
                .Retype("blk.1.attn_output.weight", (uint)Gguf.GgufTensorType.Q8_0, Fuzzing.FuzzSeeds.Q8(source.Find(WeightNames.Layer(1, WeightNames.OProj))!.ToArray()))
                .Save(path);
        }

        using (var ctx = Backend.Load("cpu").CreateContext())
        using (var loaded = ModelLoader.Load(path))
        using (var model = (DecoderModel)ModelRegistry.Create(ctx, loaded, new ModelCapacity(4, 1, 1)))
        {
            Assert.AreEqual(Runtime.Interop.DType.Q8_0, model.Weights.Layers[0].Down.WDType);
            Assert.AreEqual(Runtime.Interop.DType.Q8_0, model.Weights.Layers[1].O.WDType);
            Assert.AreEqual(Runtime.Interop.DType.Q8_0, model.Weights.TokenEmbeddingDType);
            Assert.IsTrue(model.Weights.Layers[0].Down.W.IsWrappedHostMemory);
        }

        int[][] prompts = [[1, 17, 42, 99], [1, 250]];
        var quantized = GreedyDecoder.Run("cpu", path, prompts, 6, 6);
        var widened = GreedyDecoder.Run("cpu", path, prompts, 6, 6,
            w => new ModelWeights(w.Config, w.SourcePath, w.AllTensors.Select(t => new WeightTensor(t.Name, t.ToArray(), [.. t.Shape]))));
        for (int i = 0; i < prompts.Length; i++)
        {
            for (int step = 0; step < 6; step++)
            {
                var a = quantized[i].FirstStepLogprobs[step];
                var b = widened[i].FirstStepLogprobs[step];
                double worst = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
                Assert.IsLessThan(1e-4, worst, $"row {i} step {step}: logprobs differ by {worst}");
            }
        }
    }

    [TestMethod]
    public void A_lease_keeps_a_mapped_file_open_after_its_owner_disposes_it()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [1, 2, 3, 4]);
            var file = MappedFile.Open(path);
            var lease = file.Lease();
            file.Dispose();
            Assert.AreEqual(3, file.Span(2, 1)[0], "still mapped while the lease is open");
            lease.Dispose();
            lease.Dispose(); // idempotent
            Assert.ThrowsExactly<ObjectDisposedException>(() => file.Span(0, 1).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
