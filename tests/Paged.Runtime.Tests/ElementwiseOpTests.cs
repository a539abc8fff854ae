using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>Embedding, RMSNorm, SiLU-and-multiply, argmax against plain C# references.</summary>
[TestClass]
public sealed class ElementwiseOpTests
{
    [TestMethod]
    [DataRow("cpu", 1, 8)]
    [DataRow("cpu", 7, 64)]
    [DataRow("cpu", 33, 100)]
    [DataRow("simt", 7, 64)]
    [DataRow("cuda", 7, 64)]
    public void Embedding_GathersRows(string backend, int tokens, int dim)
    {
        var ctx = Backends.Context(backend);
        const int vocab = 37;
        var table = TestData.Uniform(vocab * dim, 1);
        var ids = Enumerable.Range(0, tokens).Select(i => (i * 11 + 5) % vocab).ToArray();
        ids[0] = vocab - 1;
        using var t = ctx.Upload<float>(table);
        using var idBuf = ctx.Upload<int>(ids);
        using var outBuf = ctx.Allocate<float>(tokens * dim);
        ctx.Embedding(new EmbeddingArgs { Out = outBuf.Address, Table = t.Address, TokenIds = idBuf.Address, NumTokens = tokens, VocabSize = vocab, Dim = dim });
        var actual = outBuf.ToArray<float>();
        for (int i = 0; i < tokens; i++)
            CollectionAssert.AreEqual(table.AsSpan(ids[i] * dim, dim).ToArray(), actual.AsSpan(i * dim, dim).ToArray(), $"row {i}");
    }

    // Every backend reads a half-precision table and widens rows into f32 activations (the decoder over a half
    // checkpoint): every bf16/f16 value is exactly a float, so the rows must match bit for bit.
    [TestMethod]
    [DataRow("cpu", DType.BF16, 7, 64)]
    [DataRow("cpu", DType.BF16, 3, 33)]
    [DataRow("cpu", DType.F16, 5, 17)]
    [DataRow("simt", DType.BF16, 7, 64)]
    [DataRow("simt", DType.BF16, 3, 33)]
    [DataRow("simt", DType.F16, 5, 17)]
    [DataRow("cuda", DType.BF16, 7, 64)]
    [DataRow("cuda", DType.F16, 5, 17)]
    public void Embedding_WidensHalfTable(string backend, DType dtype, int tokens, int dim)
    {
        var ctx = Backends.Context(backend);
        const int vocab = 29;
        var wide = TestData.Uniform(vocab * dim, 3);
        var bits = new ushort[wide.Length];
        for (int i = 0; i < wide.Length; i++)
        {
            bits[i] = dtype == DType.BF16
                ? (ushort)(BitConverter.SingleToUInt32Bits(wide[i]) >> 16)
                : BitConverter.HalfToUInt16Bits((Half)wide[i]);
            wide[i] = dtype == DType.BF16 ? BitConverter.UInt32BitsToSingle((uint)bits[i] << 16) : (float)BitConverter.UInt16BitsToHalf(bits[i]);
        }

        var ids = Enumerable.Range(0, tokens).Select(i => (i * 7 + 3) % vocab).ToArray();
        ids[0] = vocab - 1;
        using var t = ctx.Upload<ushort>(bits);
        using var idBuf = ctx.Upload<int>(ids);
        using var outBuf = ctx.Allocate<float>(tokens * dim);
        ctx.Embedding(new EmbeddingArgs { Out = outBuf.Address, Table = t.Address, TokenIds = idBuf.Address, NumTokens = tokens, VocabSize = vocab, Dim = dim, DType = dtype });
        var actual = outBuf.ToArray<float>();
        for (int i = 0; i < tokens; i++)
            CollectionAssert.AreEqual(wide.AsSpan(ids[i] * dim, dim).ToArray(), actual.AsSpan(i * dim, dim).ToArray(), $"row {i}");
    }

    // Output dtypes: f32 with any table everywhere; cuda/simt also the table's own dtype; nothing else.
    [TestMethod]
    [DataRow("cpu", DType.BF16, DType.BF16)]
    [DataRow("simt", DType.BF16, DType.F16)]
    [DataRow("simt", DType.F32, DType.BF16)]
    public void Embedding_RejectsAnOutputDTypeItCannotWrite(string backend, DType table, DType output)
    {
        var ctx = Backends.Context(backend);
        using var t = ctx.Allocate<float>(4 * 8);
        using var idBuf = ctx.Upload<int>([1]);
        using var outBuf = ctx.Allocate<float>(8);
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.Embedding(new EmbeddingArgs
        {
            Out = outBuf.Address, Table = t.Address, TokenIds = idBuf.Address, NumTokens = 1, VocabSize = 4, Dim = 8, DType = table, OutDType = output,
        }));
        Assert.AreEqual(Status.DType, e.Status);
        StringAssert.Contains(e.Message, "out_dtype");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Embedding_RejectsOutOfRangeIdAndStaysUsable(string backend)
    {
        var ctx = Backends.Context(backend);
        using var t = ctx.Upload<float>(new float[4 * 8]);
        using var idBuf = ctx.Upload<int>([1, 4]);
        using var outBuf = ctx.Allocate<float>(2 * 8);
        var args = new EmbeddingArgs { Out = outBuf.Address, Table = t.Address, TokenIds = idBuf.Address, NumTokens = 2, VocabSize = 4, Dim = 8 };
        var e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.Embedding(args));
        Assert.AreEqual(Status.OutOfRange, e.Status);
        StringAssert.Contains(e.Message, "token_ids[1]");
        StringAssert.Contains(e.Message, "4");
        args.NumTokens = 1;
        ctx.Embedding(args);
    }

    // Tolerance: the reference is computed in double; fp32 summation of dim squares (<= 100 terms of
    // magnitude <= 1) and one rsqrt stay within a few ulps of the result, so 1e-5 relative is ample.
    [TestMethod]
    [DataRow("cpu", 1, 8, false)]
    [DataRow("cpu", 1, 8, true)]
    [DataRow("cpu", 5, 64, false)]
    [DataRow("cpu", 17, 100, true)]
    [DataRow("cpu", 64, 768, true)]
    [DataRow("simt", 5, 64, true)]
    [DataRow("cuda", 5, 64, true)]
    public void RmsNorm_MatchesReference(string backend, int tokens, int dim, bool withResidual)
    {
        var ctx = Backends.Context(backend);
        const float eps = 1e-5f;
        var x = TestData.Uniform(tokens * dim, 2);
        var residual = TestData.Uniform(tokens * dim, 3);
        var weight = TestData.Uniform(dim, 4, 2f);
        var expectedOut = new float[tokens * dim];
        var expectedResidual = (float[])residual.Clone();
        for (int t = 0; t < tokens; t++)
        {
            var row = new double[dim];
            for (int i = 0; i < dim; i++)
            {
                row[i] = withResidual ? (double)(x[(t * dim) + i] + residual[(t * dim) + i]) : x[(t * dim) + i];
                if (withResidual)
                    expectedResidual[(t * dim) + i] = (float)row[i];
            }

            double inv = 1 / Math.Sqrt((row.Sum(v => v * v) / dim) + eps);
            for (int i = 0; i < dim; i++)
                expectedOut[(t * dim) + i] = (float)(row[i] * inv * weight[i]);
        }

        using var xb = ctx.Upload<float>(x);
        using var rb = ctx.Upload<float>(residual);
        using var wb = ctx.Upload<float>(weight);
        using var ob = ctx.Allocate<float>(tokens * dim);
        ctx.RmsNorm(new RmsNormArgs
        {
            Out = ob.Address, X = xb.Address, Residual = withResidual ? rb.Address : 0, Weight = wb.Address,
            NumTokens = tokens, Dim = dim, Eps = eps,
        });
        TestData.AssertClose(expectedOut, ob.ToArray<float>(), 1e-6, 1e-5, "rmsnorm out");
        if (withResidual)
            TestData.AssertClose(expectedResidual, rb.ToArray<float>(), 0, 0, "rmsnorm residual sum");
    }

    [TestMethod]
    [DataRow("cpu", 1, 8)]
    [DataRow("cpu", 3, 172)]
    [DataRow("cpu", 64, 2048)]
    [DataRow("simt", 3, 172)]
    [DataRow("cuda", 3, 172)]
    public void SiluMul_MatchesReference(string backend, int tokens, int hidden)
    {
        var ctx = Backends.Context(backend);
        var x = TestData.Uniform(tokens * 2 * hidden, 5, 6f);
        var expected = new float[tokens * hidden];
        for (int t = 0; t < tokens; t++)
        {
            for (int i = 0; i < hidden; i++)
            {
                double g = x[(t * 2 * hidden) + i], u = x[(t * 2 * hidden) + hidden + i];
                expected[(t * hidden) + i] = (float)(g / (1 + Math.Exp(-g)) * u);
            }
        }

        using var xb = ctx.Upload<float>(x);
        using var ob = ctx.Allocate<float>(tokens * hidden);
        ctx.SiluMul(new SiluMulArgs { Out = ob.Address, X = xb.Address, NumTokens = tokens, Hidden = hidden });
        TestData.AssertClose(expected, ob.ToArray<float>(), 1e-6, 1e-5, "silu_mul");
    }

    [TestMethod]
    [DataRow("cpu", 1, 1)]
    [DataRow("cpu", 3, 512)]
    [DataRow("cpu", 5, 32000)]
    [DataRow("simt", 3, 512)]
    [DataRow("cuda", 3, 512)]
    public void Argmax_FindsLargestWithTiesToLowestId(string backend, int rows, int vocab)
    {
        var ctx = Backends.Context(backend);
        int stride = vocab + 3;
        var logits = TestData.Uniform(rows * stride, 6);
        var expected = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            // Plant a tie between two positions; the lower one must win.
            int a = (r * 7919) % vocab, b = Math.Min(vocab - 1, a + 1 + (r % 5));
            logits[(r * stride) + a] = 5f;
            logits[(r * stride) + b] = 5f;
            expected[r] = Math.Min(a, b);
            for (int pad = vocab; pad < stride; pad++)
                logits[(r * stride) + pad] = 100f; // beyond the row: must be ignored
        }

        using var lb = ctx.Upload<float>(logits);
        using var ob = ctx.Allocate<int>(rows);
        ctx.Argmax(new ArgmaxArgs { Out = ob.Address, Logits = lb.Address, NumRows = rows, VocabSize = vocab, RowStride = stride });
        CollectionAssert.AreEqual(expected, ob.ToArray<int>());
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Ops_RejectUnsupportedDTypeAndNullPointers(string backend)
    {
        var ctx = Backends.Context(backend);
        using var b = ctx.Allocate<float>(64);
        var e = Assert.ThrowsExactly<BackendException>(() =>
            ctx.SiluMul(new SiluMulArgs { Out = b.Address, X = b.Address + 128, NumTokens = 1, Hidden = 8, DType = (DType)99 }));
        Assert.AreNotEqual(Status.Ok, e.Status);
        e = Assert.ThrowsExactly<BackendException>(() =>
            ctx.RmsNorm(new RmsNormArgs { Out = b.Address, X = 0, Weight = b.Address, NumTokens = 1, Dim = 8, Eps = 1e-5f }));
        Assert.AreEqual(Status.InvalidArgument, e.Status);
        e = Assert.ThrowsExactly<BackendException>(() =>
            ctx.RmsNorm(new RmsNormArgs { Out = b.Address, X = b.Address, Weight = b.Address, NumTokens = 1, Dim = 0, Eps = 1e-5f }));
        StringAssert.Contains(e.Message, "dim");
    }
}
