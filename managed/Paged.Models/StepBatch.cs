namespace Paged.Models;

/// <summary>
/// The host-side description of one forward pass: a flat batch of tokens from several sequences,
/// each sequence contributing a contiguous range (a prefill chunk or a single decode token).
/// Built by the engine's model runner, consumed by <see cref="ICausalLM.Forward"/>.
/// </summary>
public sealed class StepBatch
{
    public StepBatch(int maxTokens, int maxSeqs, int maxBlocksPerSeq)
    {
        TokenIds = new int[maxTokens];
        Positions = new int[maxTokens];
        SlotMapping = new long[maxTokens];
        SeqLens = new int[maxSeqs];
        QueryStart = new int[maxSeqs + 1];
        BlockTables = new int[maxSeqs * maxBlocksPerSeq];
        LogitRows = new int[maxSeqs];
        AdapterSlots = new int[maxTokens];
        MaxBlocksPerSeq = maxBlocksPerSeq;
    }

    /// <summary>Token ids of every scheduled token, sequence after sequence.</summary>
    public int[] TokenIds { get; }

    /// <summary>Position of each token in its sequence.</summary>
    public int[] Positions { get; }

    /// <summary>KV-cache slot of each token.</summary>
    public long[] SlotMapping { get; }

    /// <summary>Per sequence: its length in the cache once this step's tokens are written.</summary>
    public int[] SeqLens { get; }

    /// <summary>Per sequence: offset of its first token in the flat batch; one extra entry at the end.</summary>
    public int[] QueryStart { get; }

    /// <summary>Per sequence: its block table, padded to <see cref="MaxBlocksPerSeq"/> entries.</summary>
    public int[] BlockTables { get; }

    /// <summary>Flat token indices whose logits are wanted (usually each sequence's last token).</summary>
    public int[] LogitRows { get; }

    /// <summary>LoRA slot of each token's adapter, -1 for the base model (read only when <see cref="HasAdapters"/>).</summary>
    public int[] AdapterSlots { get; }

    /// <summary>True when some token of the step runs under an adapter.</summary>
    public bool HasAdapters { get; private set; }

    public int MaxBlocksPerSeq { get; }

    public int NumTokens { get; set; }

    public int NumSeqs { get; set; }

    public int NumLogitRows { get; set; }

    /// <summary>Longest <see cref="SeqLens"/> entry.</summary>
    public int MaxSeqLen { get; set; }

    /// <summary>True when every sequence contributes exactly one token (pure decode step).</summary>
    public bool IsDecodeOnly => NumTokens == NumSeqs;

    public void Clear()
    {
        NumTokens = 0;
        NumSeqs = 0;
        NumLogitRows = 0;
        MaxSeqLen = 0;
        QueryStart[0] = 0;
        HasAdapters = false;
    }

    /// <summary>Appends one sequence's tokens; returns the flat index of its last token.</summary>
    /// <param name="adapterSlot">The LoRA slot of the sequence's adapter, or -1 (the base model).</param>
    public int AddSequence(ReadOnlySpan<int> tokens, int startPosition, ReadOnlySpan<int> blockTable, int blockSize, int adapterSlot = -1)
    {
        if (tokens.Length == 0)
            throw new ArgumentException("a sequence must contribute at least one token", nameof(tokens));
        if (blockTable.Length > MaxBlocksPerSeq)
            throw new ArgumentException($"block table has {blockTable.Length} entries; at most {MaxBlocksPerSeq}", nameof(blockTable));
        int s = NumSeqs;
        int t0 = NumTokens;
        for (int i = 0; i < tokens.Length; i++)
        {
            int pos = startPosition + i;
            TokenIds[t0 + i] = tokens[i];
            Positions[t0 + i] = pos;
            SlotMapping[t0 + i] = ((long)blockTable[pos / blockSize] * blockSize) + (pos % blockSize);
        }

        AdapterSlots.AsSpan(t0, tokens.Length).Fill(adapterSlot);
        HasAdapters |= adapterSlot >= 0;
        blockTable.CopyTo(BlockTables.AsSpan(s * MaxBlocksPerSeq, MaxBlocksPerSeq));
        BlockTables.AsSpan((s * MaxBlocksPerSeq) + blockTable.Length, MaxBlocksPerSeq - blockTable.Length).Clear();
        int seqLen = startPosition + tokens.Length;
        SeqLens[s] = seqLen;
        MaxSeqLen = Math.Max(MaxSeqLen, seqLen);
        NumTokens = t0 + tokens.Length;
        NumSeqs = s + 1;
        QueryStart[s + 1] = NumTokens;
        return NumTokens - 1;
    }

    /// <summary>Requests the logits of flat token <paramref name="tokenIndex"/>; returns its logits row.</summary>
    public int AddLogitRow(int tokenIndex)
    {
        LogitRows[NumLogitRows] = tokenIndex;
        return NumLogitRows++;
    }
}
