namespace Paged.Models.Lora;

/// <summary>Which fused linear layer of a decoder layer a LoRA target lives in.</summary>
public enum LoraLinear
{
    Qkv,
    O,
    GateUp,
    Down,
}

/// <summary>
/// One projection an adapter may target: its PEFT module name, the fused linear layer it is part of, the column
/// range of that layer's output it owns, and its input width (lora_A is [r, K], lora_B is [N, r]).
/// </summary>
public sealed record LoraTarget(string Module, LoraLinear Linear, int ColumnOffset, int N, int K)
{
    /// <summary>The seven projections of a Llama-family layer, in the order the slot store keeps them.</summary>
    public static IReadOnlyList<LoraTarget> For(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        int q = c.QDim, kv = c.KvDim, d = c.Dim, h = c.HiddenDim;
        return
        [
            new("q_proj", LoraLinear.Qkv, 0, q, d),
            new("k_proj", LoraLinear.Qkv, q, kv, d),
            new("v_proj", LoraLinear.Qkv, q + kv, kv, d),
            new("o_proj", LoraLinear.O, 0, d, q),
            new("gate_proj", LoraLinear.GateUp, 0, h, d),
            new("up_proj", LoraLinear.GateUp, h, h, d),
            new("down_proj", LoraLinear.Down, 0, d, h),
        ];
    }

    /// <summary>PEFT's module names, for messages.</summary>
    public static readonly string[] ModuleNames = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>"self_attn" or "mlp": the PEFT tensor path of the module.</summary>
    public string Block => Linear is LoraLinear.Qkv or LoraLinear.O ? "self_attn" : "mlp";
}
