namespace Paged.Models.Tests;

/// <summary>
/// The RoPE frequency tables against a double-precision evaluation of the formulas in transformers' rope init
/// functions. Tolerance 1e-6 relative: the table is computed in fp32 step by step (as PyTorch does), so it may
/// differ from the exact value by a few fp32 ulps (6e-8 each).
/// </summary>
[TestClass]
public sealed class RopeFrequenciesTests
{
    private static ModelConfig Config(RopeScaling scaling, float theta = 500000f, int headDim = 128) => new()
    {
        Dim = 4096, HiddenDim = 8, NumLayers = 1, NumHeads = 32, NumKvHeads = 8, VocabSize = 10, MaxSeqLen = 131072,
        HeadDim = headDim, RopeTheta = theta, RopeScaling = scaling, RopeStyle = RopeStyle.RotateHalf,
    };

    private static double Default(double theta, int i, int dim) => 1.0 / Math.Pow(theta, 2.0 * i / dim);

    private static void AssertClose(double expected, float actual, string what) =>
        Assert.IsLessThanOrEqualTo(1e-6, Math.Abs(actual - expected) / expected, $"{what}: {actual} vs {expected}");

    [TestMethod]
    public void Default_and_linear()
    {
        var plain = RopeFrequencies.Compute(Config(RopeScaling.None, 10000f, 64));
        var linear = RopeFrequencies.Compute(Config(new RopeScaling { Type = RopeScalingType.Linear, Factor = 4 }, 10000f, 64));
        Assert.HasCount(32, plain);
        for (int i = 0; i < plain.Length; i++)
        {
            AssertClose(Default(10000, i, 64), plain[i], $"default {i}");
            AssertClose(Default(10000, i, 64) / 4, linear[i], $"linear {i}");
        }
    }

    [TestMethod]
    public void Llama3_scaling_keeps_high_divides_low_and_blends_between()
    {
        // Llama 3.1 8B's parameters: factor 8, low 1, high 4, original context 8192, theta 500000, head_dim 128.
        var s = new RopeScaling { Type = RopeScalingType.Llama3, Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositions = 8192 };
        var table = RopeFrequencies.Compute(Config(s));
        int high = 0, low = 0, medium = 0;
        for (int i = 0; i < table.Length; i++)
        {
            double f = Default(500000, i, 128);
            double wavelen = 2 * Math.PI / f;
            double expected;
            if (wavelen < 8192 / 4.0)
            {
                expected = f;
                high++;
            }
            else if (wavelen > 8192 / 1.0)
            {
                expected = f / 8;
                low++;
            }
            else
            {
                double smooth = ((8192 / wavelen) - 1) / (4 - 1);
                expected = ((1 - smooth) * f / 8) + (smooth * f);
                medium++;
            }

            AssertClose(expected, table[i], $"llama3 {i}");
        }

        Assert.IsTrue(high > 0 && low > 0 && medium > 0, $"all three regions exercised ({high}, {medium}, {low})");
    }

    [TestMethod]
    public void Half_precision_checkpoints_get_the_table_rounded_to_their_dtype()
    {
        var f32 = RopeFrequencies.Compute(Config(RopeScaling.None, 1e6f, 16));
        var bf16 = RopeFrequencies.Compute(Config(RopeScaling.None, 1e6f, 16) with { DType = Weights.WeightDType.BF16 });
        var f16 = RopeFrequencies.Compute(Config(RopeScaling.None, 1e6f, 16) with { DType = Weights.WeightDType.F16 });
        for (int i = 0; i < f32.Length; i++)
        {
            Assert.AreEqual(0, BitConverter.SingleToInt32Bits(bf16[i]) & 0xFFFF, "bf16 keeps the upper 16 bits only");
            Assert.IsLessThanOrEqualTo(1.0 / 256, Math.Abs(bf16[i] - f32[i]) / f32[i]);
            Assert.AreEqual((float)(Half)f32[i], f16[i]);
        }

        Assert.IsTrue(bf16.Where((v, i) => v != f32[i]).Any(), "rounding changes some entries");
    }

    [TestMethod]
    public void Dynamic_within_the_trained_context_is_the_default_table()
    {
        var dynamic = RopeFrequencies.Compute(Config(new RopeScaling { Type = RopeScalingType.Dynamic, Factor = 2 }, 10000f, 64));
        CollectionAssert.AreEqual(RopeFrequencies.Compute(Config(RopeScaling.None, 10000f, 64)), dynamic);
    }
}
