using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>Per-head RMSNorm (Qwen3's q_norm / k_norm) against a plain reference.</summary>
[TestClass]
public sealed class HeadRmsNormTests
{
    // The heads sit inside a fused qkv row (token stride > num_heads * head_size), as the model applies
    // the op to q and k in place: everything outside the normalised heads must be left untouched.
    // Tolerance: the reference is in double; fp32 sum of squares of <= 256 terms and one rescale:
    // 1e-5 relative + 1e-6 absolute.
    [TestMethod]
    [DataRow("cpu", 1, 1, 16, 0)]
    [DataRow("cpu", 5, 4, 16, 48)]   // the tiny Qwen3: head_dim 16, q heads 4 then k heads 2 in a fused row
    [DataRow("cpu", 7, 3, 64, 13)]
    [DataRow("cpu", 3, 2, 80, 0)]
    [DataRow("cpu", 33, 16, 128, 7)]
    [DataRow("cpu", 2, 1, 256, 1)]
    [DataRow("cpu", 4, 2, 5, 3)]     // a head size that is not a multiple of 8 (or of 32)
    [DataRow("cpu", 0, 2, 16, 0)]    // an empty batch
    [DataRow("simt", 5, 4, 16, 48)]
    [DataRow("simt", 7, 3, 64, 13)]
    [DataRow("simt", 33, 16, 128, 7)]
    [DataRow("simt", 4, 2, 5, 3)]
    [DataRow("simt", 3, 5, 80, 0)]
    [DataRow("cuda", 5, 4, 16, 48)]
    [DataRow("cuda", 33, 16, 128, 7)]
    public void HeadRmsNorm_MatchesReference(string backend, int tokens, int heads, int headSize, int extra)
    {
        var ctx = Backends.Context(backend);
        int stride = (heads * headSize) + extra;
        const float eps = 1e-6f;
        var x = TestData.Uniform(Math.Max(1, tokens * stride), 60 + headSize, scale: 3f);
        var w = TestData.Uniform(headSize, 61 + headSize, scale: 2f);
        var expected = (float[])x.Clone();
        for (int t = 0; t < tokens; t++)
        {
            for (int h = 0; h < heads; h++)
            {
                int b = (t * stride) + (h * headSize);
                double ss = 0;
                for (int i = 0; i < headSize; i++)
                    ss += (double)x[b + i] * x[b + i];
                double inv = 1 / Math.Sqrt((ss / headSize) + eps);
                for (int i = 0; i < headSize; i++)
                    expected[b + i] = (float)(w[i] * (x[b + i] * inv));
            }
        }

        using var xb = ctx.Upload<float>(x);
        using var wb = ctx.Upload<float>(w);
        ctx.HeadRmsNorm(new HeadRmsNormArgs
        {
            X = xb.Address, Weight = wb.Address, NumTokens = tokens, NumHeads = heads, HeadSize = headSize,
            TokenStride = stride, Eps = eps,
        });
        TestData.AssertClose(expected, xb.ToArray<float>(), 1e-6, 1e-5, $"head_rmsnorm {tokens}x{heads}x{headSize}");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void HeadRmsNorm_RejectsBadArguments(string backend)
    {
        var ctx = Backends.Context(backend);
        using var x = ctx.Allocate<float>(64);
        using var w = ctx.Allocate<float>(16);
        var args = new HeadRmsNormArgs { X = x.Address, Weight = w.Address, NumTokens = 2, NumHeads = 2, HeadSize = 16, TokenStride = 31, Eps = 1e-6f };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.HeadRmsNorm(args));
        Assert.AreEqual(Status.Shape, e.Status);
        StringAssert.Contains(e.Message, "token_stride");
        args.TokenStride = 32;
        args.Weight = x.At<float>(16); // inside x
        e = Assert.ThrowsExactly<BackendException>(() => ctx.HeadRmsNorm(args));
        StringAssert.Contains(e.Message, "weight overlaps x");
        args.Weight = w.Address;
        args.Eps = float.NaN;
        Assert.AreEqual(Status.InvalidArgument, Assert.ThrowsExactly<BackendException>(() => ctx.HeadRmsNorm(args)).Status);
        args.Eps = 1e-6f;
        args.DType = (DType)9;
        Assert.AreEqual(Status.InvalidArgument, Assert.ThrowsExactly<BackendException>(() => ctx.HeadRmsNorm(args)).Status);
    }
}
