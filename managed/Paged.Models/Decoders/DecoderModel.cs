using Paged.Runtime;
using Paged.Models.Lora;
using Paged.Runtime.Interop;

namespace Paged.Models.Decoders;

/// <summary>
/// The Llama-family decoder forward pass (Llama, Mistral, Qwen2, Qwen3) as a sequence of backend op calls over a flat
/// batch of tokens from many sequences (prefill chunks and decode tokens mixed). The architectures differ only in
/// config features this pass switches on: q/k/v bias, per-head q/k RMSNorm, a sliding window, RoPE frequencies.
/// Every linear layer runs through <see cref="Linear"/>, the one place an adapter (LoRA) will hook in.
/// </summary>
internal sealed class DecoderModel : ICausalLM
{
    private readonly DeviceContext _ctx;
    private DecoderWeights _w;
    private readonly DecoderWorkspace _ws;
    private readonly bool _batchInvariant;

    public DecoderModel(DeviceContext context, ModelWeights weights, ModelCapacity capacity)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(capacity);
        _ctx = context;
        Config = weights.Config;
        MaxTokens = capacity.MaxTokens;
        MaxSeqs = capacity.MaxSeqs;
        MaxBlocksPerSeq = capacity.MaxBlocksPerSeq;
        _batchInvariant = capacity.BatchInvariant;
        _w = new DecoderWeights(context, weights);
        try
        {
            _ws = new DecoderWorkspace(context, Config, MaxTokens, MaxSeqs, MaxBlocksPerSeq);
            if (capacity.MaxLoras > 0)
                LoraSlots = new Lora.LoraSlotStore(context, Config, capacity.MaxLoras, capacity.MaxLoraRank, MaxTokens,
                    Lora.LoraDTypes.Resolve(capacity.LoraDType, _w.Layers.Length > 0 ? _w.Layers[0].Qkv.WDType : DType.F32));
        }
        catch
        {
            _ws?.Dispose();
            _w.Dispose();
            throw;
        }
    }

    public ModelConfig Config { get; }

    public int MaxTokens { get; }

    public int MaxSeqs { get; }

    public int MaxBlocksPerSeq { get; }

    public DeviceContext Context => _ctx;

    public Lora.LoraSlotStore? LoraSlots { get; }

    /// <summary>Device address of the logits the last <see cref="Forward(StepBatch, KvCache)"/> wrote ([NumLogitRows, vocab], dense).</summary>
    public nint LogitsAddress => _ws.Logits.Address;

    /// <summary>
    /// Stages <paramref name="batch"/>'s index arrays into the caller's packed upload of the step; the
    /// next <see cref="Forward(StepBatch, KvCache)"/> of that batch, after the caller's flush, uses them
    /// instead of uploading its own.
    /// </summary>
    public void Stage(StepBatch batch, StagingBuffer upload) => _ws.Stage(batch, upload);

    /// <summary>
    /// Runs the model over <paramref name="batch"/>, writing its keys and values into
    /// <paramref name="cache"/>; the logits of the requested rows stay on the device
    /// (<see cref="LogitsAddress"/>), for the sampling op to consume there.
    /// </summary>
    public void Forward(StepBatch batch, KvCache cache)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(cache);
        int T = batch.NumTokens;
        int S = batch.NumSeqs;
        int R = batch.NumLogitRows;
        var c = Config;
        if (T <= 0 || T > MaxTokens)
            throw new ArgumentException($"step has {T} tokens; this model was set up for 1..{MaxTokens}", nameof(batch));
        if (S > MaxSeqs || R > MaxSeqs)
            throw new ArgumentException($"step has {S} sequences and {R} logit rows; at most {MaxSeqs}", nameof(batch));
        if (batch.MaxBlocksPerSeq != MaxBlocksPerSeq)
            throw new ArgumentException("batch block-table width differs from the model's", nameof(batch));

        _ws.Upload(batch);
        _adapterSlots = LoraSlots is not null ? _ws.AdapterSlots.Address : 0;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, qkvWidth = qDim + (2 * kvDim), hidden = c.HiddenDim;
        var ws = _ws;

        _ctx.Embedding(new EmbeddingArgs
        {
            Out = ws.Residual.Address, Table = _w.TokenEmbedding.Address, TokenIds = ws.TokenIds.Address,
            NumTokens = T, VocabSize = c.VocabSize, Dim = dim, DType = _w.TokenEmbeddingDType,
        });

        var attention = new AttentionArgs
        {
            Out = ws.AttnOut.Address, Query = ws.Qkv.Address, Cache = cache.Descriptor,
            BlockTables = ws.BlockTables.Address, SeqLens = ws.SeqLens.Address, QueryStart = ws.QueryStart.Address,
            NumSeqs = S, NumTokens = T, NumHeads = c.NumHeads, MaxBlocksPerSeq = MaxBlocksPerSeq,
            QStride = qkvWidth, Scale = 1f / MathF.Sqrt(c.HeadSize), MaxSeqLen = batch.MaxSeqLen,
            SlidingWindow = c.SlidingWindow, DType = DType.F32,
        };

        for (int l = 0; l < c.NumLayers; l++)
        {
            var lw = _w.Layers[l];
            RmsNorm(ws.Normed, ws.Residual, lw.AttnNorm, T);
            Linear(lw.Qkv, ws.Normed.Address, ws.Qkv.Address, T, accumulate: false, l, LoraLinear.Qkv);
            if (lw.QNorm is not null && lw.KNorm is not null)
            {
                HeadRmsNorm(ws.Qkv.Address, lw.QNorm, T, c.NumHeads, qkvWidth);
                HeadRmsNorm(ws.Qkv.At<float>(qDim), lw.KNorm, T, c.NumKvHeads, qkvWidth);
            }

            // Rotate q/k and write k/v to the cache in one op (one launch on a GPU).
            _ctx.RopeCacheWrite(new RopeCacheWriteArgs
            {
                Rope = new RopeArgs
                {
                    Q = ws.Qkv.Address, K = ws.Qkv.At<float>(qDim), Positions = ws.Positions.Address, NumTokens = T,
                    NumHeads = c.NumHeads, NumKvHeads = c.NumKvHeads, HeadSize = c.HeadSize, RotaryDim = c.HeadSize,
                    QStride = qkvWidth, KStride = qkvWidth, Style = c.RopeStyle,
                    Theta = c.RopeTheta, DType = DType.F32, InvFreq = _w.RopeInvFreq?.Address ?? 0,
                },
                CacheWrite = new CacheWriteArgs
                {
                    Cache = cache.Descriptor, Key = ws.Qkv.At<float>(qDim), Value = ws.Qkv.At<float>(qDim + kvDim),
                    SlotMapping = ws.SlotMapping.Address, NumTokens = T, Layer = l, KeyStride = qkvWidth, ValueStride = qkvWidth,
                    DType = DType.F32,
                },
            });
            attention.Layer = l;
            if (batch.IsDecodeOnly && !_batchInvariant)
                _ctx.AttentionDecode(attention);
            else
                _ctx.AttentionPrefill(attention);
            Linear(lw.O, ws.AttnOut.Address, ws.Residual.Address, T, accumulate: true, l, LoraLinear.O);

            RmsNorm(ws.Normed, ws.Residual, lw.FfnNorm, T);
            Linear(lw.GateUp, ws.Normed.Address, ws.GateUp.Address, T, accumulate: false, l, LoraLinear.GateUp);
            _ctx.SiluMul(new SiluMulArgs { Out = ws.Act.Address, X = ws.GateUp.Address, NumTokens = T, Hidden = hidden, DType = DType.F32 });
            Linear(lw.Down, ws.Act.Address, ws.Residual.Address, T, accumulate: true, l, LoraLinear.Down);
        }

        _lastTokens = T;
        if (R > 0)
            ProjectRows(ws.LogitRows.Address, R);
    }

    private int _lastTokens;

    public void ProjectRows(ReadOnlySpan<int> tokenIndices)
    {
        if (tokenIndices.Length == 0)
            return;
        if (tokenIndices.Length > MaxSeqs)
            throw new ArgumentException($"{tokenIndices.Length} rows; at most {MaxSeqs} at once", nameof(tokenIndices));
        foreach (int t in tokenIndices)
        {
            if ((uint)t >= (uint)_lastTokens)
                throw new ArgumentOutOfRangeException(nameof(tokenIndices), $"token index {t} is outside the last batch (0..{_lastTokens - 1})");
        }

        ProjectRows(_ws.UploadRows(tokenIndices), tokenIndices.Length);
    }

    /// <summary>
    /// Gathers the rows whose logits are wanted (an embedding lookup over the residual stream), then normalizes and
    /// projects only those.
    /// </summary>
    private void ProjectRows(nint rows, int count)
    {
        var ws = _ws;
        _ctx.Embedding(new EmbeddingArgs
        {
            Out = ws.LastHidden.Address, Table = ws.Residual.Address, TokenIds = rows,
            NumTokens = count, VocabSize = _lastTokens, Dim = Config.Dim, DType = DType.F32,
        });
        RmsNorm(ws.LastHidden, ws.LastHidden, _w.FinalNorm, count);
        Linear(_w.LmHead, ws.LastHidden.Address, ws.Logits.Address, count, accumulate: false);
    }

    public void ReplaceWeights(ModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Config.Describe() != Config.Describe() || weights.Config.Architecture != Config.Architecture)
        {
            throw ModelFormatException.For(weights.SourcePath,
                $"the new weights are for {weights.Config.Architecture} ({weights.Config.Describe()}), the model is {Config.Architecture} ({Config.Describe()})");
        }

        var fresh = _w.WithUpdate(_ctx, weights); // checks every tensor's name, shape and values first
        var old = _w;
        _w = fresh;
        old.Dispose();
    }

    /// <summary>
    /// Every linear layer of the model: out[rows, N] (+)= x[rows, K] W^T + bias (one matmul per row block of W), then,
    /// for a decoder layer's projections when the step has adapters, each token's LoRA delta (the lora op, one call
    /// per fused target).
    /// </summary>
    private void Linear(LinearWeight w, nint x, nint output, int rows, bool accumulate, int layer = -1, LoraLinear lora = default)
    {
        var args = new MatmulArgs
        {
            Out = output, X = x, W = w.W.Address, M = rows, N = w.N, K = w.K, Ldx = w.K, Ldo = w.N,
            Accumulate = accumulate ? 1 : 0, Bias = w.Bias?.Address ?? 0,
            XDType = DType.F32, WDType = w.WDType, OutDType = DType.F32, BatchInvariant = _batchInvariant ? 1 : 0,
        };
        if (w.RowBlocks is null)
        {
            _ctx.Matmul(args);
        }
        else
        {
            int first = 0; // output columns [first, first + block rows) come from this block
            foreach (var (block, blockRows) in w.RowBlocks)
            {
                _ctx.Matmul(args with
                {
                    Out = output + (first * sizeof(float)), W = block.Address, N = blockRows,
                    Bias = w.Bias is null ? 0 : w.Bias.Address + (first * sizeof(float)),
                });
                first += blockRows;
            }
        }

        if (layer >= 0 && _adapterSlots != 0)
            LoraSlots!.Apply(lora, layer, x, w.K, output, w.N, rows, _adapterSlots);
    }

    // The step's per-token LoRA slots on the device (0: no adapter in this step).
    private nint _adapterSlots;

    /// <summary>RMSNorm over each head of each token, in place (Qwen3's q_norm / k_norm before RoPE).</summary>
    private void HeadRmsNorm(nint x, DeviceBuffer weight, int tokens, int heads, int tokenStride) =>
        _ctx.HeadRmsNorm(new HeadRmsNormArgs
        {
            X = x, Weight = weight.Address, NumTokens = tokens, NumHeads = heads, HeadSize = Config.HeadSize,
            TokenStride = tokenStride, Eps = Config.NormEps, DType = DType.F32,
        });

    private void RmsNorm(DeviceBuffer output, DeviceBuffer input, DeviceBuffer weight, int rows) =>
        _ctx.RmsNorm(new RmsNormArgs
        {
            Out = output.Address, X = input.Address, Weight = weight.Address,
            NumTokens = rows, Dim = Config.Dim, Eps = Config.NormEps, DType = DType.F32,
        });

    /// <summary>The device weights (tests inspect which dtype each projection kept).</summary>
    internal DecoderWeights Weights => _w;

    public void Dispose()
    {
        LoraSlots?.Dispose();
        _ws.Dispose();
        _w.Dispose();
    }
}
