using Paged.Runtime.Interop;

namespace Paged.Models.Lora;

/// <summary>Element type of the adapter slots (lora_A and lora_B on the device); the op widens bf16 in registers and sums in fp32.</summary>
public enum LoraDType
{
    /// <summary>The default: bf16 when the base model's projection weights are narrower than fp32 on the device, else f32 (<see cref="LoraDTypes.Resolve"/>).</summary>
    Auto,

    /// <summary>fp32: the adapter's values as loaded (exact for F32 checkpoints).</summary>
    F32,

    /// <summary>bfloat16: half the bytes per slot and per step (values rounded to nearest even; PEFT adapters are usually trained and shipped in bf16).</summary>
    BF16,
}

public static class LoraDTypes
{
    /// <summary>
    /// The one place for the default. With half (or quantized) base weights the step is memory-bound on reading
    /// weights and the base already carries half-precision rounding, so bf16 slots halve the adapters' share of the
    /// bytes at an error below the base's; with fp32 base weights (the reference path) the slots stay exact.
    /// </summary>
    public static DType Resolve(LoraDType requested, DType baseWeights) => requested switch
    {
        LoraDType.F32 => DType.F32,
        LoraDType.BF16 => DType.BF16,
        _ => baseWeights == DType.F32 ? DType.F32 : DType.BF16,
    };
}
