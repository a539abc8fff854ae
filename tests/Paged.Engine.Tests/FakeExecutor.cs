using System.Runtime.InteropServices;

namespace Paged.Engine.Tests;

/// <summary>
/// A model executor without a model: it keeps a simulated KV cache (the token id stored in every slot,
/// host swap slots included), applies the plan's swaps and copy-on-write copies, writes each chunk's
/// tokens into their slots, and checks that every position a chunk attends to holds that sequence's
/// token (so a wrong block table, a missed copy, a bad swap or a wrong prefix-cache hit is caught).
/// Tokens are drawn from each sequence's own generator (token 0 means "stop" in the scheduler tests) unless
/// <see cref="TokenSource"/> scripts them; <see cref="BeforeExecute"/> can block or throw to test the loop around it.
/// </summary>
internal sealed class FakeExecutor : IModelExecutor
{
    private readonly int[] _slots;
    private readonly Dictionary<int, int[]> _host = [];
    private readonly int _blockSize;
    private readonly int _vocab;
    private readonly HashSet<long> _written = [];

    public FakeExecutor(int numBlocks, int blockSize, int vocab = 50)
    {
        _slots = new int[numBlocks * blockSize];
        Array.Fill(_slots, -1);
        _blockSize = blockSize;
        _vocab = vocab;
    }

    public bool Verify { get; init; } = true;

    /// <summary>The token a sequence samples next (default: its own generator modulo the vocabulary).</summary>
    public Func<Sequence, int>? TokenSource { get; init; }

    /// <summary>Runs first in every <see cref="Execute"/> (on the engine's thread).</summary>
    public Action<StepPlan>? BeforeExecute { get; init; }

    /// <summary>Steps executed.</summary>
    public long Steps { get; private set; }

    public ReadOnlySpan<int> Block(int block) => _slots.AsSpan(block * _blockSize, _blockSize);

    public void Execute(StepPlan plan, List<(Sequence Seq, int Token)> sampled)
    {
        sampled.Clear();
        BeforeExecute?.Invoke(plan);
        Steps++;
        foreach (var m in plan.SwapOut)
            _host[m.Dst] = Block(m.Src).ToArray();
        foreach (var m in plan.SwapIn)
            _host[m.Src].CopyTo(_slots.AsSpan(m.Dst * _blockSize, _blockSize));
        var dsts = new HashSet<int>();
        foreach (var c in plan.Copies)
        {
            Assert.IsTrue(dsts.Add(c.Dst), $"block {c.Dst} is the destination of two copies");
            Block(c.Src).CopyTo(_slots.AsSpan(c.Dst * _blockSize, _blockSize));
        }

        if (Verify)
            _written.Clear();
        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            var table = seq.BlockTable;
            Assert.IsTrue(chunk.Count > 0, "empty chunk");
            for (int p = chunk.Start; p < chunk.Start + chunk.Count; p++)
            {
                long slot = ((long)table[p / _blockSize] * _blockSize) + (p % _blockSize);
                if (Verify)
                    Assert.IsTrue(_written.Add(slot), $"slot {slot} written twice in one step (seq {seq.Id} pos {p})");
                _slots[slot] = seq.Tokens[p];
            }
        }

        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            if (Verify)
            {
                var tokens = CollectionsMarshal.AsSpan(seq.TokenList);
                for (int p = 0; p < chunk.Start + chunk.Count; p++)
                {
                    int actual = _slots[(seq.BlockTable[p / _blockSize] * _blockSize) + (p % _blockSize)];
                    if (actual != tokens[p])
                        Assert.Fail($"seq {seq.Id} position {p}: KV holds token {actual}, expected {tokens[p]} (chunk {chunk.Start}+{chunk.Count})");
                }
            }

            if (!chunk.Samples)
                continue;
            sampled.Add((seq, Draw(seq)));
            foreach (var child in seq.PendingForks)
                sampled.Add((child, Draw(child)));
        }
    }

    private int Draw(Sequence seq)
    {
        int token = TokenSource?.Invoke(seq) ?? (int)(seq.Random.NextUInt64() % (ulong)_vocab);
        if (seq.Sampling.Logprobs is not null)
            (seq.Logprobs ??= []).Add(new TokenLogprobs(token, -1f - (token % 7), []));
        return token;
    }

    public void Dispose()
    {
    }
}
