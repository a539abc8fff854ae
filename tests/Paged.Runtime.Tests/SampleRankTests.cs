using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// The sample op's rank of the chosen token (pg_sample_args.out_ranks, vLLM's Logprob.rank): 1 + the number of tokens
/// with a strictly larger logprob in the distribution the logprobs come from, against a count over the logits made
/// here: raw logits by default; with processed logprobs the edited logits (a logit bias) for greedy rows and only the
/// top-k survivors for sampled ones. Rows without the rank flag get 0. Awkward vocabulary (1,000 + 37), ties included.
/// </summary>
[TestClass]
public sealed class SampleRankTests
{
    private const int Vocab = 1037;

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Ranks_count_the_larger_logprobs(string backend)
    {
        var ctx = Backends.Context(backend);
        const int rows = 9;
        var logits = TestData.Uniform(rows * Vocab, 310, scale: 4f);
        for (int j = 0; j < 40; j++)
            logits[(4 * Vocab) + (j * 25)] = 1.5f; // ties in row 4
        var bias = new Dictionary<int, float> { [5] = 30f, [900] = -50f };
        var spec = new[]
        {
            new SampleRow { Temperature = 1, Seed = 1, Rank = true },
            new SampleRow { Temperature = 0, Rank = true },
            new SampleRow { Temperature = 0.7f, Seed = 3, Step = 5, Rank = true, NumLogprobs = 4 },
            new SampleRow { Temperature = 1, Seed = 4 }, // no rank asked
            new SampleRow { Temperature = 2, Seed = 5, Rank = true },
            new SampleRow { Temperature = 0, LogitBias = bias, ProcessedLogprobs = true, Rank = true },
            new SampleRow { Temperature = 1.3f, TopK = 50, Seed = 7, ProcessedLogprobs = true, Rank = true },
            new SampleRow { Temperature = 1, TopK = 50, Seed = 8, Rank = true }, // raw logprobs: ranks over the whole row
            new SampleRow { Temperature = 3, Seed = 9, Step = 2, Rank = true },
        };
        using var lb = ctx.Upload<float>(logits);
        using var batch = new SampleOpBatch(ctx);
        batch.Run(lb.Address, Vocab, Vocab, spec);
        for (int r = 0; r < rows; r++)
        {
            var row = logits.AsSpan(r * Vocab, Vocab).ToArray();
            int token = batch.Tokens[r];
            Assert.AreEqual(SampleRowStatus.Ok, batch.Status[r], $"row {r}");
            int expected;
            if (!spec[r].Rank)
            {
                expected = 0;
            }
            else if (spec[r].ProcessedLogprobs && spec[r].LogitBias is { } b)
            {
                foreach (var (id, v) in b)
                    row[id] += v;
                expected = 1 + row.Count(v => v > row[token]);
            }
            else if (spec[r].ProcessedLogprobs)
            {
                var survivors = row.OrderByDescending(v => v).Take(spec[r].TopK).ToArray(); // no ties at the cut in this row
                expected = 1 + survivors.Count(v => v > row[token]);
            }
            else
            {
                expected = 1 + row.Count(v => v > row[token]);
            }

            Assert.AreEqual(expected, batch.Ranks[r], $"{backend} row {r}: token {token}");
        }

        Assert.IsTrue(Enumerable.Range(0, rows).Any(r => batch.Ranks[r] > 20), "sampled tokens reach ranks beyond any top-N");
        Assert.AreEqual(1, batch.Ranks[1], "greedy takes the rank-1 token");
    }
}
