using Paged.Models.Decoders;
using Paged.Models.Lora;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models.Tests;

/// <summary>
/// The adapter slots' element type: auto follows the base projections' dtype on the device (bf16 slots beside half
/// weights, f32 beside fp32 ones), an explicit choice wins, and bf16 slots take half the device bytes.
/// </summary>
[TestClass]
public sealed class LoraSlotDTypeTests
{
    [TestMethod]
    [DataRow(LoraDType.Auto, DType.F32, DType.F32)]
    [DataRow(LoraDType.Auto, DType.BF16, DType.BF16)]
    [DataRow(LoraDType.Auto, DType.F16, DType.BF16)]
    [DataRow(LoraDType.Auto, DType.Q8_0, DType.BF16)]
    [DataRow(LoraDType.F32, DType.BF16, DType.F32)]
    [DataRow(LoraDType.BF16, DType.F32, DType.BF16)]
    public void Resolve_picks_the_slot_dtype(LoraDType requested, DType baseWeights, DType expected) =>
        Assert.AreEqual(expected, LoraDTypes.Resolve(requested, baseWeights));

    // tiny-llama3 is stored in bf16: cpu, simt and cuda keep its projections in bf16 (DeviceWeightDTypes), so auto
    // picks bf16 slots on each; an explicit f32 wins.
    [TestMethod]
    [DataRow("cpu", LoraDType.Auto, DType.BF16)]
    [DataRow("cpu", LoraDType.F32, DType.F32)]
    [DataRow("simt", LoraDType.Auto, DType.BF16)]
    [DataRow("simt", LoraDType.F32, DType.F32)]
    public void Model_slots_follow_the_base_weights(string backend, LoraDType requested, DType expected)
    {
        if (!Backend.IsAvailable(backend))
            Assert.Inconclusive($"backend '{backend}' is not built here");
        using var ctx = Backend.Load(backend).CreateContext();
        using var loaded = ModelLoader.Load(SafetensorsTestFiles.Tiny("tiny-llama3"));
        using var model = (DecoderModel)ModelRegistry.Create(ctx, loaded, new ModelCapacity(4, 1, 1) { MaxLoras = 2, MaxLoraRank = 8, LoraDType = requested });
        Assert.AreEqual(expected, model.LoraSlots!.DType);
    }

    [TestMethod]
    public void Bf16_slots_take_half_the_bytes()
    {
        using var ctx = Backend.Load("cpu").CreateContext();
        using var loaded = ModelLoader.Load(SafetensorsTestFiles.Tiny("tiny-llama3"));
        var config = loaded.Config;
        using var f32 = new LoraSlotStore(ctx, config, 4, 16, 8, DType.F32);
        using var bf16 = new LoraSlotStore(ctx, config, 4, 16, 8, DType.BF16);
        long fixedBytes = (4 * LoraTarget.For(config).Count * sizeof(float)) + (4 * sizeof(int)) + (8 * 16 * sizeof(float)); // scales, ranks, workspace
        Assert.AreEqual(f32.Bytes - fixedBytes, 2 * (bf16.Bytes - fixedBytes));
        Assert.ThrowsExactly<ArgumentException>(() => new LoraSlotStore(ctx, config, 4, 16, 8, DType.F16));
    }
}
