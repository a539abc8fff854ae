namespace Paged.Runtime.Tests;

/// <summary>Philox4x32-10, a C# mirror of native/common/philox.h (checked against Random123's known answers).</summary>
internal static class Philox
{
    public static uint[] Block(uint[] counter, uint key0, uint key1)
    {
        uint c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
        for (int r = 0; r < 10; r++)
        {
            if (r > 0)
            {
                key0 += 0x9E3779B9u;
                key1 += 0xBB67AE85u;
            }

            ulong p0 = 0xD2511F53UL * c0, p1 = 0xCD9E8D57UL * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ key0, n1 = (uint)p1, n2 = (uint)(p0 >> 32) ^ c3 ^ key1, n3 = (uint)p0;
            (c0, c1, c2, c3) = (n0, n1, n2, n3);
        }

        return [c0, c1, c2, c3];
    }

    /// <summary>The uniform the sample op uses for (seed, step).</summary>
    public static double Uniform(ulong seed, ulong step)
    {
        var o = Block([(uint)step, (uint)(step >> 32), 0, 0], (uint)seed, (uint)(seed >> 32));
        ulong bits = ((ulong)o[0] << 32) | o[1];
        return (bits >> 11) * (1.0 / (1UL << 53));
    }
}

/// <summary>Double-precision reference of the sample op's semantics (paged.h, pg_sample_args).</summary>
internal static class SamplingReference
{
    public static double[] LogSoftmax(ReadOnlySpan<float> x, double temperature = 1)
    {
        double max = double.NegativeInfinity;
        foreach (float v in x)
            max = Math.Max(max, v / temperature);
        double sum = 0;
        foreach (float v in x)
            sum += Math.Exp((v / temperature) - max);
        double lse = max + Math.Log(sum);
        var r = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            r[i] = (x[i] / temperature) - lse;
        return r;
    }

    /// <summary>Processed logits: logit bias, min_tokens mask, repetition, frequency and presence penalties (vLLM order).</summary>
    public static float[] Process(
        float[] raw, IReadOnlyDictionary<int, float>? bias, int[] stopIds, bool maskStops,
        int[] prompt, int[] output, float rep, float freq, float pres)
    {
        var s = (float[])raw.Clone();
        if (bias is not null)
        {
            foreach (var (id, b) in bias)
                s[id] += b;
        }

        if (maskStops)
        {
            foreach (int id in stopIds)
                s[id] = float.NegativeInfinity;
        }

        foreach (int id in prompt.Concat(output).Distinct())
            s[id] = s[id] > 0 ? s[id] / rep : s[id] * rep;
        foreach (var g in output.GroupBy(t => t))
            s[g.Key] -= (freq * g.Count()) + pres;
        return s;
    }

    /// <summary>
    /// The filtered distribution a row is drawn from: softmax(s / T), then min-p, top-k, top-p (each on
    /// the survivors of the previous filter; ties at a boundary kept). Also returns the smallest distance
    /// of the top-p cumulative mass from its target, so tests can avoid rows decided by rounding.
    /// </summary>
    public static double[] Filtered(float[] s, double temperature, int topK, double topP, double minP, out double topPMargin)
    {
        int n = s.Length;
        var lp = LogSoftmax(s, temperature);
        var p = lp.Select(Math.Exp).ToArray();
        var alive = new bool[n];
        double pmax = p.Max();
        for (int i = 0; i < n; i++)
            alive[i] = p[i] > 0 && p[i] >= minP * pmax;
        if (topK > 0)
        {
            var sorted = Enumerable.Range(0, n).Where(i => alive[i]).Select(i => p[i]).OrderByDescending(v => v).ToArray();
            if (sorted.Length > topK)
            {
                double kth = sorted[topK - 1];
                for (int i = 0; i < n; i++)
                    alive[i] &= p[i] >= kth;
            }
        }

        topPMargin = double.PositiveInfinity;
        if (topP < 1)
        {
            double total = Enumerable.Range(0, n).Where(i => alive[i]).Sum(i => p[i]);
            var order = Enumerable.Range(0, n).Where(i => alive[i]).OrderByDescending(i => p[i]).ToArray();
            double acc = 0, threshold = 0, groupStart = 0;
            for (int k = 0; k < order.Length; k++)
            {
                int i = order[k];
                acc += p[i];
                bool groupEnds = k + 1 == order.Length || p[order[k + 1]] != p[i];
                if (!groupEnds)
                    continue; // ties are kept or dropped together: only value-group boundaries matter
                if (acc >= topP * total)
                {
                    // How far the crossing group's two edges are from the target.
                    topPMargin = Math.Min(Math.Abs((acc / total) - topP), Math.Abs((groupStart / total) - topP));
                    threshold = p[i];
                    break;
                }

                groupStart = acc;
            }

            for (int i = 0; i < n; i++)
                alive[i] &= p[i] >= threshold;
        }

        double z = 0;
        for (int i = 0; i < n; i++)
            z += alive[i] ? p[i] : 0;
        var q = new double[n];
        for (int i = 0; i < n; i++)
            q[i] = alive[i] ? p[i] / z : 0;
        return q;
    }

    /// <summary>
    /// Upper (1 - 1e-7) quantile of chi-square with <paramref name="df"/> degrees of freedom, by the
    /// Wilson-Hilferty cube-root normal approximation with z = 5.2 (normal tail 1.0e-7).
    /// </summary>
    public static double ChiSquareCritical(int df)
    {
        const double z = 5.2;
        double a = 2.0 / (9.0 * df);
        return df * Math.Pow(1 - a + (z * Math.Sqrt(a)), 3);
    }
}
