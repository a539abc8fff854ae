using Paged.Runtime.Interop;

namespace Paged.Engine;

/// <summary>Element type of the KV cache (--kv-cache-dtype). Activations stay fp32; a half cache rounds K/V to nearest even as they are written.</summary>
public enum KvCacheDType
{
    /// <summary>The default: the activations' type (fp32: the engine computes in f32).</summary>
    Auto,

    /// <summary>fp32: exact; 4 bytes per element.</summary>
    F32,

    /// <summary>bfloat16: 2 bytes per element (twice the blocks for the same memory); 8 significant bits.</summary>
    BF16,

    /// <summary>IEEE half: 2 bytes per element; 11 significant bits, range +-65504.</summary>
    F16,
}

/// <summary>The one place that maps <see cref="KvCacheDType"/> to the backend's dtype.</summary>
public static class KvCacheDTypes
{
    public static DType Resolve(KvCacheDType t) => t switch
    {
        KvCacheDType.Auto or KvCacheDType.F32 => DType.F32,
        KvCacheDType.BF16 => DType.BF16,
        KvCacheDType.F16 => DType.F16,
        _ => throw new ArgumentException($"unknown KV cache dtype {t} (auto, f32, bf16, f16)"),
    };
}
