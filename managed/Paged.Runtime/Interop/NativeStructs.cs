using System.Runtime.InteropServices;

namespace Paged.Runtime.Interop;

// Blittable mirrors of the argument structs in native/include/paged.h, field for field and in order.
// A test compares every size and offset with the table the native library describes (describe_layouts).
#pragma warning disable CA1051 // Interop structs expose fields by design: they are the ABI.

/// <summary>Element type of a tensor (pg_dtype).</summary>
public enum DType
{
    F32 = 0,
    F16 = 1,
    BF16 = 2,

    /// <summary>GGUF q8_0 blocks (32 weights: an f16 scale, 32 int8): matmul weights on the CPU backend only.</summary>
    Q8_0 = 3,
}

/// <summary>How rotary embedding pairs the elements of a head (pg_rope_style).</summary>
public enum RopeStyle
{
    /// <summary>llama2.c / GGUF: rotate (x[2i], x[2i+1]).</summary>
    AdjacentPairs = 0,

    /// <summary>HF / NeoX checkpoints: rotate (x[i], x[i + d/2]).</summary>
    RotateHalf = 1,
}

internal enum MemcpyKind
{
    HostToDevice = 0,
    DeviceToHost = 1,
    DeviceToDevice = 2,
}

[StructLayout(LayoutKind.Sequential)]
public struct ContextOptions
{
    public int NumThreads;
    public int DeviceIndex;
}

[StructLayout(LayoutKind.Sequential)]
public struct EmbeddingArgs
{
    public nint Out;
    public nint Table;
    public nint TokenIds;
    public int NumTokens;
    public int VocabSize;
    public int Dim;

    /// <summary>The table's dtype.</summary>
    public DType DType;

    /// <summary>The output's dtype: f32 (the default) with any table; on cuda/simt also the table's own dtype.</summary>
    public DType OutDType;
}

[StructLayout(LayoutKind.Sequential)]
public struct RmsNormArgs
{
    public nint Out;
    public nint X;
    public nint Residual;
    public nint Weight;
    public int NumTokens;
    public int Dim;
    public float Eps;
    public DType DType;
}

[StructLayout(LayoutKind.Sequential)]
public struct MatmulArgs
{
    public nint Out;
    public nint X;
    public nint W;
    public int M;
    public int N;
    public int K;
    public int Ldx;
    public int Ldo;
    public int Accumulate;
    public DType XDType;
    public DType WDType;
    public DType OutDType;

    /// <summary>Device memory, [N] fp32 bias added to every row (Qwen2's q/k/v projections), or 0 for none.</summary>
    public nint Bias;

    /// <summary>1: each output row bit-identical whatever else is in the batch (cuda/simt: the fixed-order SIMT GEMM; the cpu GEMM always is).</summary>
    public int BatchInvariant;
}

[StructLayout(LayoutKind.Sequential)]
public struct RopeArgs
{
    public nint Q;
    public nint K;
    public nint Positions;
    public int NumTokens;
    public int NumHeads;
    public int NumKvHeads;
    public int HeadSize;
    public int RotaryDim;
    public int QStride;
    public int KStride;
    public RopeStyle Style;

    /// <summary>Base of the default frequencies theta^(-2i/rotary_dim); ignored when <see cref="InvFreq"/> is set.</summary>
    public float Theta;
    public DType DType;

    /// <summary>Device memory, [rotary_dim / 2] fp32 frequencies (Llama 3 / linear / dynamic scaling), or 0 for the theta default.</summary>
    public nint InvFreq;
}

/// <summary>Per-head RMSNorm in place (pg_head_rmsnorm_args: Qwen3's q_norm / k_norm).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct HeadRmsNormArgs
{
    public nint X;
    public nint Weight;
    public int NumTokens;
    public int NumHeads;
    public int HeadSize;
    public int TokenStride;
    public float Eps;
    public DType DType;
}

/// <summary>
/// Batched LoRA (pg_lora_args): out[t, :N] += scales[s] * (x[t] A_s^T) B_s^T for each token t with slot
/// s = TokenSlots[t] &gt;= 0. A is [NumSlots, MaxRank, K], B is lora_B transposed, [NumSlots, MaxRank, N].
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct LoraArgs
{
    public nint Out;
    public nint X;
    public nint A;
    public nint B;

    /// <summary>Device memory, [NumSlots] fp32; 0 skips the slot.</summary>
    public nint Scales;

    /// <summary>Device memory, [NumTokens] int32: -1 (no adapter) or a slot.</summary>
    public nint TokenSlots;

    /// <summary>Device memory, [NumTokens, MaxRank] fp32 scratch.</summary>
    public nint Workspace;
    public int NumTokens;
    public int N;
    public int K;
    public int MaxRank;
    public int NumSlots;
    public int Ldx;
    public int Ldo;

    /// <summary>Of Out and X: F32.</summary>
    public DType DType;

    /// <summary>Of A and B: F32 (the default) or BF16 (widened in registers, fp32 sums).</summary>
    public DType WeightDType;

    /// <summary>Device memory, [NumSlots] int32: each slot's rank (rows from it on are not read); 0 (null): every slot MaxRank.</summary>
    public nint SlotRanks;
}

[StructLayout(LayoutKind.Sequential)]
public struct SiluMulArgs
{
    public nint Out;
    public nint X;
    public int NumTokens;
    public int Hidden;
    public DType DType;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvCacheDesc
{
    public nint Data;
    public int NumBlocks;
    public int NumLayers;
    public int NumKvHeads;
    public int BlockSize;
    public int HeadSize;
    public DType DType;
}

[StructLayout(LayoutKind.Sequential)]
public struct CacheWriteArgs
{
    public KvCacheDesc Cache;
    public nint Key;
    public nint Value;
    public nint SlotMapping;
    public int NumTokens;
    public int Layer;
    public int KeyStride;
    public int ValueStride;

    /// <summary>Of key and value; the cache's own dtype may be bf16/f16 when this is f32 (rounded on write).</summary>
    public DType DType;
}

[StructLayout(LayoutKind.Sequential)]
public struct AttentionArgs
{
    public nint Out;
    public nint Query;
    public KvCacheDesc Cache;
    public nint BlockTables;
    public nint SeqLens;
    public nint QueryStart;
    public int NumSeqs;
    public int NumTokens;
    public int NumHeads;
    public int MaxBlocksPerSeq;
    public int Layer;
    public int QStride;
    public float Scale;
    public int MaxSeqLen;

    /// <summary>W &gt; 0: a query at position p attends to positions p - W &lt; k &lt;= p only (Mistral); 0: no window.</summary>
    public int SlidingWindow;

    /// <summary>Of query and out; the cache's own dtype may be bf16/f16 when this is f32 (widened on read).</summary>
    public DType DType;
}

/// <summary>RoPE fused with the cache write (pg_rope_cache_write_args): rope on q/k, then cache_write of the rotated k and v, in one pass.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct RopeCacheWriteArgs
{
    public RopeArgs Rope;
    public CacheWriteArgs CacheWrite;
}

[StructLayout(LayoutKind.Sequential)]
public struct BlockCopyArgs
{
    public KvCacheDesc Cache;
    public nint Pairs;
    public int NumPairs;
}

/// <summary>Direction of a block swap (pg_swap_direction).</summary>
public enum SwapDirection
{
    /// <summary>Device cache blocks to host pool slots.</summary>
    Out = 0,

    /// <summary>Host pool slots to device cache blocks.</summary>
    In = 1,
}

[StructLayout(LayoutKind.Sequential)]
public struct BlockSwapArgs
{
    public KvCacheDesc Cache;
    public nint Host;
    public nint Pairs;
    public int NumHostBlocks;
    public int NumPairs;
    public SwapDirection Direction;
}

[StructLayout(LayoutKind.Sequential)]
public struct ArgmaxArgs
{
    public nint Out;
    public nint Logits;
    public int NumRows;
    public int VocabSize;
    public int RowStride;
    public DType DType;
}

/// <summary>Per-row status of the sample op (pg_sample_row_status).</summary>
public enum SampleRowStatus
{
    Ok = 0,

    /// <summary>NaN or infinite logits in the row (or produced by bias / penalties).</summary>
    NonFinite = 1,

    /// <summary>Every token of the row was masked.</summary>
    NoCandidate = 2,
}

/// <summary>Per-row flags of the sample op (pg_sample_flags).</summary>
[Flags]
public enum SampleOptions : uint
{
    None = 0,

    /// <summary>The request gave its own seed (informational; the draw is the same).</summary>
    Seeded = 1,

    /// <summary>Logprobs of the processed distribution instead of the raw one.</summary>
    ProcessedLogprobs = 2,

    /// <summary>Report the chosen token's rank among the vocabulary (1 + tokens with a strictly larger logprob).</summary>
    Rank = 4,
}

/// <summary>Constants of the sample op.</summary>
public static class SampleLimits
{
    /// <summary>Most top-N logprobs per row (PG_SAMPLE_MAX_LOGPROBS); the top-N outputs are [rows, MaxLogprobs].</summary>
    public const int MaxLogprobs = 20;
}

/// <summary>Fused sampling (pg_sample_args); paged.h documents every field and the processing order.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SampleArgs
{
    public nint OutTokens;
    public nint OutLogprobs;
    public nint OutTopIds;
    public nint OutTopLogprobs;
    public nint OutStatus;
    public nint Logits;
    public nint Temperature;
    public nint TopK;
    public nint TopP;
    public nint MinP;
    public nint RepetitionPenalty;
    public nint FrequencyPenalty;
    public nint PresencePenalty;
    public nint MinTokens;
    public nint Seeds;
    public nint Steps;
    public nint Flags;
    public nint NumLogprobs;
    public nint PromptTokens;
    public nint PromptOffsets;
    public nint OutputTokens;
    public nint OutputOffsets;
    public nint StopIds;
    public nint StopOffsets;
    public nint BiasIds;
    public nint BiasValues;
    public nint BiasOffsets;
    public nint Workspace;
    public long WorkspaceBytes;
    public int NumRows;
    public int VocabSize;
    public int RowStride;
    public DType DType;

    /// <summary>[NumRows] int32 or 0: the chosen token's rank (vLLM's) for rows with <see cref="SampleOptions.Rank"/>, else 0.</summary>
    public nint OutRanks;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FieldLayout
{
    public byte* StructName;
    public byte* FieldName;
    public uint Offset;
    public uint Size;
}

/// <summary>The pg_api function table, in the order of paged.h.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ApiTable
{
    public uint AbiVersion;
    public uint StructSize;
    public byte* BackendName;
    public delegate* unmanaged[Cdecl]<byte*> LastError;
    public delegate* unmanaged[Cdecl]<FieldLayout**, int*, Status> DescribeLayouts;
    public delegate* unmanaged[Cdecl]<ContextOptions*, nint*, Status> ContextCreate;
    public delegate* unmanaged[Cdecl]<nint, Status> ContextDestroy;
    public delegate* unmanaged[Cdecl]<nint, Status> Synchronize;
    public delegate* unmanaged[Cdecl]<nint, byte*, int, Status> DeviceName;
    public delegate* unmanaged[Cdecl]<nint, nuint, nint*, Status> Alloc;
    public delegate* unmanaged[Cdecl]<nint, nint, Status> Free;
    public delegate* unmanaged[Cdecl]<nint, nint, nint, nuint, int, Status> Memcpy;
    public delegate* unmanaged[Cdecl]<nint, nint, int, nuint, Status> Memset;
    public delegate* unmanaged[Cdecl]<nint, EmbeddingArgs*, Status> Embedding;
    public delegate* unmanaged[Cdecl]<nint, RmsNormArgs*, Status> RmsNorm;
    public delegate* unmanaged[Cdecl]<nint, MatmulArgs*, Status> Matmul;
    public delegate* unmanaged[Cdecl]<nint, RopeArgs*, Status> Rope;
    public delegate* unmanaged[Cdecl]<nint, SiluMulArgs*, Status> SiluMul;
    public delegate* unmanaged[Cdecl]<nint, CacheWriteArgs*, Status> CacheWrite;
    public delegate* unmanaged[Cdecl]<nint, AttentionArgs*, Status> AttentionDecode;
    public delegate* unmanaged[Cdecl]<nint, AttentionArgs*, Status> AttentionPrefill;
    public delegate* unmanaged[Cdecl]<nint, BlockCopyArgs*, Status> BlockCopy;
    public delegate* unmanaged[Cdecl]<nint, ArgmaxArgs*, Status> Argmax;
    public delegate* unmanaged[Cdecl]<nint, SampleArgs*, Status> Sample;
    public delegate* unmanaged[Cdecl]<nint, nuint, nint*, Status> AllocHost;
    public delegate* unmanaged[Cdecl]<nint, nint, Status> FreeHost;
    public delegate* unmanaged[Cdecl]<nint, BlockSwapArgs*, Status> BlockSwap;
    public delegate* unmanaged[Cdecl]<nint, HeadRmsNormArgs*, Status> HeadRmsNorm;
    public delegate* unmanaged[Cdecl]<nint, BackendCounters*, Status> GetCounters;
    public delegate* unmanaged[Cdecl]<nint, RopeCacheWriteArgs*, Status> RopeCacheWrite;
    public delegate* unmanaged[Cdecl]<nint, LoraArgs*, Status> Lora;
    public delegate* unmanaged[Cdecl]<nint, Status> BeginCapture;
    public delegate* unmanaged[Cdecl]<nint, nint*, Status> EndCapture;
    public delegate* unmanaged[Cdecl]<nint, nint, Status> GraphLaunch;
    public delegate* unmanaged[Cdecl]<nint, nint, Status> GraphDestroy;
}

/// <summary>Cumulative waits, launches and copies of a context (pg_counters).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct BackendCounters
{
    /// <summary>Times the host waited for the device.</summary>
    public long HostSyncs;

    /// <summary>Kernel launches (a cuBLAS GEMM counts as one).</summary>
    public long Launches;

    public long HostToDeviceCopies;

    public long DeviceToHostCopies;

    /// <summary>Graph replays (each also counts as one of <see cref="Launches"/>).</summary>
    public long GraphReplays;

    /// <summary>The counts accumulated between <paramref name="before"/> and this reading.</summary>
    public readonly BackendCounters Since(BackendCounters before) => new()
    {
        HostSyncs = HostSyncs - before.HostSyncs,
        Launches = Launches - before.Launches,
        HostToDeviceCopies = HostToDeviceCopies - before.HostToDeviceCopies,
        DeviceToHostCopies = DeviceToHostCopies - before.DeviceToHostCopies,
        GraphReplays = GraphReplays - before.GraphReplays,
    };
}
