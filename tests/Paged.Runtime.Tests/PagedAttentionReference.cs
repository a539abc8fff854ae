namespace Paged.Runtime.Tests;

/// <summary>
/// Shared pieces of the paged-attention tests: random block tables over a larger pool, the slot of every
/// token, and the dense double-precision reference (paged.h's causal attention with a sliding window).
/// </summary>
internal static class PagedAttentionReference
{
    /// <summary>"seqLen:qLen,..." -> the sequences.</summary>
    public static (int Len, int QLen)[] ParseSeqs(string spec) =>
        spec.Split(',').Select(p => p.Split(':')).Select(p => (Len: int.Parse(p[0]), QLen: int.Parse(p[1]))).ToArray();

    /// <summary>Random distinct physical blocks of a pool of numBlocks for every sequence ([seq, maxBlocks]); returns the shuffled pool too.</summary>
    public static int[] RandomTables((int Len, int QLen)[] seqs, int blockSize, int numBlocks, int maxBlocks, Random rng, out int[] pool)
    {
        pool = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToArray();
        var tables = new int[seqs.Length * maxBlocks];
        int next = 0;
        for (int s = 0; s < seqs.Length; s++)
        {
            for (int b = 0; b < (seqs[s].Len + blockSize - 1) / blockSize; b++)
                tables[(s * maxBlocks) + b] = pool[next++];
        }

        return tables;
    }

    /// <summary>The cache slot of every token of every sequence, in order, plus one padding token (slot -1); first[s] = index of sequence s's first token.</summary>
    public static long[] Slots((int Len, int QLen)[] seqs, int[] tables, int maxBlocks, int blockSize, out int[] first)
    {
        var slots = new long[seqs.Sum(s => s.Len) + 1];
        first = new int[seqs.Length];
        int tok = 0;
        for (int s = 0; s < seqs.Length; s++)
        {
            first[s] = tok;
            for (int p = 0; p < seqs[s].Len; p++, tok++)
                slots[tok] = ((long)tables[(s * maxBlocks) + (p / blockSize)] * blockSize) + (p % blockSize);
        }

        slots[^1] = -1;
        return slots;
    }

    /// <summary>Dense attention in double: query token i of sequence s (at position len - qLen + i) attends to positions p - W &lt; k &lt;= p.</summary>
    public static float[] Dense((int Len, int QLen)[] seqs, int[] queryStart, int[] first, float[] query, int qStride,
        float[] keys, float[] values, int kvStride, int heads, int gqa, int headSize, float scale, int window)
    {
        var expected = new float[queryStart[^1] * heads * headSize];
        for (int s = 0; s < seqs.Length; s++)
        {
            for (int i = 0; i < seqs[s].QLen; i++)
            {
                int t = queryStart[s] + i, pos = seqs[s].Len - seqs[s].QLen + i;
                int lo = window > 0 ? Math.Max(0, pos - window + 1) : 0;
                for (int h = 0; h < heads; h++)
                {
                    int g = h / gqa;
                    var sc = new double[pos + 1];
                    double max = double.NegativeInfinity;
                    for (int j = lo; j <= pos; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < headSize; d++)
                            dot += (double)query[(t * qStride) + (h * headSize) + d] * keys[((first[s] + j) * kvStride) + (g * headSize) + d];
                        sc[j] = dot * scale;
                        max = Math.Max(max, sc[j]);
                    }

                    double sum = 0;
                    for (int j = lo; j <= pos; j++)
                        sum += sc[j] = Math.Exp(sc[j] - max);
                    for (int d = 0; d < headSize; d++)
                    {
                        double acc = 0;
                        for (int j = lo; j <= pos; j++)
                            acc += sc[j] / sum * values[((first[s] + j) * kvStride) + (g * headSize) + d];
                        expected[(((t * heads) + h) * headSize) + d] = (float)acc;
                    }
                }
            }
        }

        return expected;
    }

    /// <summary>query_start of the sequences: [0, qLen0, qLen0 + qLen1, ...].</summary>
    public static int[] QueryStart((int Len, int QLen)[] seqs)
    {
        var queryStart = new int[seqs.Length + 1];
        for (int s = 0; s < seqs.Length; s++)
            queryStart[s + 1] = queryStart[s] + seqs[s].QLen;
        return queryStart;
    }
}
