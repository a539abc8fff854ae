using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// Rotary embedding against a plain reference: the default frequencies (theta^(-2j/d), as llama2.c)
/// and a frequency table (inv_freq, as transformers' LlamaRotaryEmbedding with rope scaling).
/// </summary>
[TestClass]
public sealed class RopeTests
{
    // Tolerance: the reference uses the same float angle as the backend (one fp32 product p * freq, as
    // llama2.c and transformers compute it) and rotates in double; what remains is one fp32 rounding of
    // cos/sin and of the rotation: 2e-5 absolute + 1e-5 relative for values of magnitude <= 1.
    [TestMethod]
    [DataRow("cpu", RopeStyle.AdjacentPairs, 8, 8, 1, 1)]
    [DataRow("cpu", RopeStyle.AdjacentPairs, 64, 64, 5, 7)]
    [DataRow("cpu", RopeStyle.RotateHalf, 64, 64, 8, 3)]
    [DataRow("cpu", RopeStyle.RotateHalf, 128, 64, 4, 17)]
    [DataRow("cpu", RopeStyle.AdjacentPairs, 128, 96, 2, 9)]
    [DataRow("simt", RopeStyle.RotateHalf, 64, 64, 8, 3)]
    [DataRow("cuda", RopeStyle.RotateHalf, 64, 64, 8, 3)]
    public void Rope_MatchesReference(string backend, RopeStyle style, int headSize, int rotaryDim, int gqa, int tokens)
    {
        const float theta = 10000f;
        var freq = new float[rotaryDim / 2];
        for (int j = 0; j < freq.Length; j++)
            freq[j] = 1.0f / MathF.Pow(theta, 2 * j / (float)rotaryDim);
        Run(backend, style, headSize, rotaryDim, gqa, tokens, theta, freq, table: false);
    }

    // The table path: Llama 3 scaled frequencies (computed here as transformers'
    // _compute_llama3_parameters does), positions past the original context, head sizes of the tiny HF
    // models (16) and the real ones, partial rotary dims, odd token counts. theta is deliberately
    // invalid: with a table it must be ignored.
    [TestMethod]
    [DataRow("cpu", RopeStyle.RotateHalf, 16, 16, 1, 1)]
    [DataRow("cpu", RopeStyle.RotateHalf, 16, 16, 4, 13)]
    [DataRow("cpu", RopeStyle.RotateHalf, 64, 32, 1, 5)]
    [DataRow("cpu", RopeStyle.RotateHalf, 80, 80, 4, 7)]
    [DataRow("cpu", RopeStyle.RotateHalf, 128, 128, 4, 33)]
    [DataRow("cpu", RopeStyle.AdjacentPairs, 64, 64, 2, 3)]
    [DataRow("simt", RopeStyle.RotateHalf, 16, 16, 4, 13)]
    [DataRow("simt", RopeStyle.RotateHalf, 128, 128, 4, 33)]
    [DataRow("simt", RopeStyle.AdjacentPairs, 80, 48, 1, 3)]
    [DataRow("cuda", RopeStyle.RotateHalf, 16, 16, 4, 13)]
    [DataRow("cuda", RopeStyle.RotateHalf, 128, 128, 4, 33)]
    public void Rope_WithFrequencyTable_MatchesReference(string backend, RopeStyle style, int headSize, int rotaryDim, int gqa, int tokens)
    {
        var freq = Llama3InvFreq(rotaryDim, 500000.0, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192);
        Run(backend, style, headSize, rotaryDim, gqa, tokens, float.NaN, freq, table: true);
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Rope_RejectsABadThetaWithoutATable(string backend)
    {
        var ctx = Backends.Context(backend);
        using var q = ctx.Allocate<float>(64);
        using var p = ctx.Upload<int>([0]);
        var args = new RopeArgs
        {
            Q = q.Address, K = q.Address, Positions = p.Address, NumTokens = 1, NumHeads = 1, NumKvHeads = 1,
            HeadSize = 16, RotaryDim = 16, QStride = 16, KStride = 16, Style = RopeStyle.RotateHalf, Theta = float.NaN,
        };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.Rope(args));
        StringAssert.Contains(e.Message, "theta");
    }

    /// <summary>transformers' Llama 3 rope scaling: fp32 base frequencies, long wavelengths divided by
    /// factor, the band between smoothly interpolated (rope_type "llama3").</summary>
    internal static float[] Llama3InvFreq(int dim, double theta, double factor, double lowFreqFactor, double highFreqFactor, double originalContext)
    {
        var freq = new float[dim / 2];
        double lowWavelen = originalContext / lowFreqFactor, highWavelen = originalContext / highFreqFactor;
        for (int j = 0; j < freq.Length; j++)
        {
            float f = (float)(1.0 / Math.Pow(theta, 2 * j / (double)dim));
            double wavelen = 2 * Math.PI / f;
            if (wavelen > lowWavelen)
            {
                f = (float)(f / factor);
            }
            else if (wavelen >= highWavelen)
            {
                double smooth = ((originalContext / wavelen) - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                f = (float)(((1 - smooth) * f / factor) + (smooth * f));
            }

            freq[j] = f;
        }

        return freq;
    }

    private static void Run(string backend, RopeStyle style, int headSize, int rotaryDim, int gqa, int tokens, float theta, float[] freq, bool table)
    {
        var ctx = Backends.Context(backend);
        int kvHeads = 2, heads = kvHeads * gqa;
        int qStride = (heads + (2 * kvHeads)) * headSize; // q and k inside a fused qkv row, as in the model
        var qkv = TestData.Uniform(tokens * qStride, 40 + headSize);
        var positions = Enumerable.Range(0, tokens).Select(i => (i * 613) % 4096 + (i % 3 == 2 ? 100000 : 0)).ToArray();
        positions[0] = 0;
        var expected = (float[])qkv.Clone();
        for (int t = 0; t < tokens; t++)
        {
            for (int h = 0; h < heads + kvHeads; h++)
            {
                int baseIdx = (t * qStride) + (h * headSize);
                for (int j = 0; j < rotaryDim / 2; j++)
                {
                    float angle = positions[t] * freq[j]; // one fp32 product
                    double c = Math.Cos(angle), s = Math.Sin(angle);
                    int i0 = style == RopeStyle.AdjacentPairs ? baseIdx + (2 * j) : baseIdx + j;
                    int i1 = style == RopeStyle.AdjacentPairs ? i0 + 1 : baseIdx + j + (rotaryDim / 2);
                    double a = qkv[i0], b = qkv[i1];
                    expected[i0] = (float)((a * c) - (b * s));
                    expected[i1] = (float)((a * s) + (b * c));
                }
            }
        }

        using var qb = ctx.Upload<float>(qkv);
        using var pb = ctx.Upload<int>(positions);
        using var fb = ctx.Upload<float>(freq);
        ctx.Rope(new RopeArgs
        {
            Q = qb.Address, K = qb.At<float>(heads * headSize), Positions = pb.Address, NumTokens = tokens,
            NumHeads = heads, NumKvHeads = kvHeads, HeadSize = headSize, RotaryDim = rotaryDim,
            QStride = qStride, KStride = qStride, Style = style, Theta = theta, InvFreq = table ? fb.Address : 0,
        });
        TestData.AssertClose(expected, qb.ToArray<float>(), 2e-5, 1e-5, $"rope {style} table={table}");
    }
}
