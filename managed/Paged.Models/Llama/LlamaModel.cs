using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models.Llama;

/// <summary>
/// The Llama forward pass as a sequence of backend op calls over a flat batch of tokens from many
/// sequences (prefill chunks and decode tokens mixed). Weights live on the device; the workspace is
/// sized once for the largest step (<c>maxTokens</c> tokens, <c>maxSeqs</c> sequences).
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private readonly DeviceContext _ctx;
    private readonly LlamaDeviceWeights _w;
    private readonly LlamaWorkspace _ws;

    public LlamaModel(DeviceContext context, ModelWeights weights, int maxTokens, int maxSeqs, int maxBlocksPerSeq)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(weights);
        _ctx = context;
        Config = weights.Config;
        MaxTokens = maxTokens;
        MaxSeqs = maxSeqs;
        MaxBlocksPerSeq = maxBlocksPerSeq;
        _w = new LlamaDeviceWeights(context, weights);
        try
        {
            _ws = new LlamaWorkspace(context, Config, maxTokens, maxSeqs, maxBlocksPerSeq);
        }
        catch
        {
            _w.Dispose();
            throw;
        }
    }

    public ModelConfig Config { get; }

    public int MaxTokens { get; }

    public int MaxSeqs { get; }

    public int MaxBlocksPerSeq { get; }

    public DeviceContext Context => _ctx;

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
        int dim = c.Dim, kvDim = c.KvDim, qkvWidth = dim + (2 * kvDim), hidden = c.HiddenDim;
        var ws = _ws;

        _ctx.Embedding(new EmbeddingArgs
        {
            Out = ws.Residual.Address, Table = _w.TokenEmbedding.Address, TokenIds = ws.TokenIds.Address,
            NumTokens = T, VocabSize = c.VocabSize, Dim = dim, DType = DType.F32,
        });

        var attention = new AttentionArgs
        {
            Out = ws.AttnOut.Address, Query = ws.Qkv.Address, Cache = cache.Descriptor,
            BlockTables = ws.BlockTables.Address, SeqLens = ws.SeqLens.Address, QueryStart = ws.QueryStart.Address,
            NumSeqs = S, NumTokens = T, NumHeads = c.NumHeads, MaxBlocksPerSeq = MaxBlocksPerSeq,
            QStride = qkvWidth, Scale = 1f / MathF.Sqrt(c.HeadSize), MaxSeqLen = batch.MaxSeqLen,
        };

        for (int l = 0; l < c.NumLayers; l++)
        {
            var lw = _w.Layers[l];
            RmsNorm(ws.Normed, ws.Residual, lw.AttnNorm, T);
            Matmul(ws.Qkv, ws.Normed, lw.Wqkv, T, qkvWidth, dim, accumulate: false);
            _ctx.Rope(new RopeArgs
            {
                Q = ws.Qkv.Address, K = ws.Qkv.At<float>(dim), Positions = ws.Positions.Address, NumTokens = T,
                NumHeads = c.NumHeads, NumKvHeads = c.NumKvHeads, HeadSize = c.HeadSize, RotaryDim = c.HeadSize,
                QStride = qkvWidth, KStride = qkvWidth, Style = (Paged.Runtime.Interop.RopeStyle)(int)c.RopeStyle,
                Theta = c.RopeTheta, DType = DType.F32,
            });
            _ctx.CacheWrite(new CacheWriteArgs
            {
                Cache = cache.Descriptor, Key = ws.Qkv.At<float>(dim), Value = ws.Qkv.At<float>(dim + kvDim),
                SlotMapping = ws.SlotMapping.Address, NumTokens = T, Layer = l, KeyStride = qkvWidth, ValueStride = qkvWidth,
            });
            attention.Layer = l;
            if (batch.IsDecodeOnly)
                _ctx.AttentionDecode(attention);
            else
                _ctx.AttentionPrefill(attention);
            Matmul(ws.Residual, ws.AttnOut, lw.Wo, T, dim, dim, accumulate: true);

            RmsNorm(ws.Normed, ws.Residual, lw.FfnNorm, T);
            Matmul(ws.GateUp, ws.Normed, lw.W13, T, 2 * hidden, dim, accumulate: false);
            _ctx.SiluMul(new SiluMulArgs { Out = ws.Act.Address, X = ws.GateUp.Address, NumTokens = T, Hidden = hidden, DType = DType.F32 });
            Matmul(ws.Residual, ws.Act, lw.W2, T, dim, hidden, accumulate: true);
        }

        if (R == 0)
            return;

        // Gather the rows whose logits are wanted (an embedding lookup over the residual stream),
        // then normalize and project only those.
        _ctx.Embedding(new EmbeddingArgs
        {
            Out = ws.LastHidden.Address, Table = ws.Residual.Address, TokenIds = ws.LogitRows.Address,
            NumTokens = R, VocabSize = T, Dim = dim, DType = DType.F32,
        });
        RmsNorm(ws.LastHidden, ws.LastHidden, _w.FinalNorm, R);
        Matmul(ws.Logits, ws.LastHidden, _w.Classifier, R, c.VocabSize, dim, accumulate: false);
    }

    private void RmsNorm(DeviceBuffer output, DeviceBuffer input, DeviceBuffer weight, int rows) =>
        _ctx.RmsNorm(new RmsNormArgs
        {
            Out = output.Address, X = input.Address, Weight = weight.Address,
            NumTokens = rows, Dim = Config.Dim, Eps = Config.NormEps, DType = DType.F32,
        });

    private void Matmul(DeviceBuffer output, DeviceBuffer x, DeviceBuffer w, int m, int n, int k, bool accumulate) =>
        _ctx.Matmul(new MatmulArgs
        {
            Out = output.Address, X = x.Address, W = w.Address, M = m, N = n, K = k, Ldx = k, Ldo = n,
            Accumulate = accumulate ? 1 : 0,
        });

    public void Dispose()
    {
        _ws.Dispose();
        _w.Dispose();
    }
}
