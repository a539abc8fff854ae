using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paged.Cli.Tests;

/// <summary>
/// `paged run-batch` through the real program: a file mixing valid completions and chat lines with malformed ones.
/// Every valid line is answered with the same greedy text `paged generate` gives for the same prompt, every bad line
/// is reported (matched by custom_id, or by its line number when it has none), and results keep the input order.
/// </summary>
[TestClass]
public sealed class RunBatchTests
{
    private const int MaxTokens = 24;

    private static string Request(string customId, string url, object body) =>
        JsonSerializer.Serialize(new { custom_id = customId, method = "POST", url, body });

    private static string GreedyGenerate(string prompt)
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", MaxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--format", "jsonl", prompt);
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("text").GetString()!;
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void RunBatch_MixedFile_AnswersValidLinesAndReportsBadOnes()
    {
        string dir = Directory.CreateTempSubdirectory("paged-batch-").FullName;
        try
        {
            var tooLong = Enumerable.Repeat(100, 600).ToArray(); // stories260K's context is 512 tokens
            string[] input =
            [
                Request("story", "/v1/completions", new { model = "stories260K", prompt = "Once upon a time", max_tokens = MaxTokens, temperature = 0 }),
                Request("chat", "/v1/chat/completions", new { messages = new[] { new { role = "user", content = "Tell me a story" } }, max_tokens = MaxTokens, temperature = 0 }),
                "{\"custom_id\": \"broken\", \"method\": \"POST\", ",
                "",
                JsonSerializer.Serialize(new { method = "POST", url = "/v1/completions", body = new { prompt = "Zoo" } }),
                Request("wrong-url", "/v1/embeddings", new { input = "Zoo" }),
                Request("wrong-type", "/v1/completions", new { prompt = "Zoo", max_tokens = "ten" }),
                Request("too-long", "/v1/completions", new { prompt = tooLong, max_tokens = 4 }),
                Request("zoo", "/v1/completions", new { prompt = "Zoo", max_tokens = MaxTokens, temperature = 0 }),
                Request("story", "/v1/completions", new { prompt = "again" }),
                Request("other-model", "/v1/completions", new { model = "gpt-4o", prompt = "Zoo" }),
            ];
            string inputPath = Path.Combine(dir, "in.jsonl");
            string outputPath = Path.Combine(dir, "out.jsonl");
            File.WriteAllLines(inputPath, input);

            var r = CliRunner.Run("run-batch", "--model", CliRunner.Model, "-i", inputPath, "-o", outputPath, "--max-num-seqs", "2", "--progress-interval", "0");
            Assert.AreEqual(1, r.ExitCode, "some lines failed: " + r.Stderr);
            StringAssert.Contains(r.Stderr, "10 requests, 3 succeeded, 7 failed");
            StringAssert.Contains(r.Stderr, "progress: 10/10 requests", "every line, bad ones included, counts as done");
            Assert.DoesNotContain("   at ", r.Stderr, "no stack trace");

            // One result per non-blank input line, in input order.
            var lines = File.ReadAllLines(outputPath).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
            Assert.HasCount(10, lines);
            string?[] expectedIds = ["story", "chat", null, null, "wrong-url", "wrong-type", "too-long", "zoo", "story", "other-model"];
            CollectionAssert.AreEqual(expectedIds, lines.Select(l => l["custom_id"]?.GetValue<string>()).ToArray());
            foreach (var l in lines)
                StringAssert.StartsWith(l["id"]!.GetValue<string>(), "batch_req_");

            // Valid lines: status 200, an OpenAI response body, no error, the greedy text of `paged generate`.
            AssertSucceeded(lines[0], "text_completion");
            Assert.AreEqual(GreedyGenerate("Once upon a time"), lines[0]["response"]!["body"]!["choices"]![0]!["text"]!.GetValue<string>());
            AssertSucceeded(lines[7], "text_completion");
            Assert.AreEqual(GreedyGenerate("Zoo"), lines[7]["response"]!["body"]!["choices"]![0]!["text"]!.GetValue<string>());
            AssertSucceeded(lines[1], "chat.completion");
            // The default chat template renders "<s>User: Tell me a story\nAssistant:"; generate adds the BOS itself.
            Assert.AreEqual(GreedyGenerate("User: Tell me a story\nAssistant:"),
                lines[1]["response"]!["body"]!["choices"]![0]!["message"]!["content"]!.GetValue<string>());

            // Lines that never reached an endpoint: no response, an error with a code and the input line number.
            AssertLineError(lines[2], "invalid_json", 3);
            AssertLineError(lines[3], "missing_custom_id", 5);
            AssertLineError(lines[4], "invalid_url", 6);
            AssertLineError(lines[8], "duplicate_custom_id", 10);

            // Lines an endpoint refused: the status and OpenAI error body the server sends, and the error.
            AssertRefused(lines[5], 400, "max_tokens", 7);
            AssertRefused(lines[6], 400, "prompt", 8);
            AssertRefused(lines[9], 404, "model", 11);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void RunBatch_AllValid_ExitsZero_MissingInputFailsCleanly()
    {
        string dir = Directory.CreateTempSubdirectory("paged-batch-").FullName;
        try
        {
            string inputPath = Path.Combine(dir, "in.jsonl");
            string outputPath = Path.Combine(dir, "out.jsonl");
            File.WriteAllLines(inputPath, Enumerable.Range(0, 6).Select(i => Request($"r{i}", "/v1/completions", new { prompt = $"Once {i}", max_tokens = 4 })));
            var r = CliRunner.Run("run-batch", "--model", CliRunner.Model, "-i", inputPath, "-o", outputPath, "--max-concurrent-requests", "3");
            Assert.AreEqual(0, r.ExitCode, r.Stderr);
            var ids = File.ReadAllLines(outputPath).Select(l => JsonNode.Parse(l)!["custom_id"]!.GetValue<string>()).ToArray();
            CollectionAssert.AreEqual(Enumerable.Range(0, 6).Select(i => $"r{i}").ToArray(), ids);

            var missing = CliRunner.Run("run-batch", "--model", CliRunner.Model, "-i", Path.Combine(dir, "none.jsonl"), "-o", outputPath);
            Assert.AreEqual(2, missing.ExitCode);
            StringAssert.Contains(missing.Stderr, "none.jsonl");
            Assert.DoesNotContain("   at ", missing.Stderr);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    // SIGTERM mid-batch (sent once the first line has finished, as the progress line on stderr shows): reading
    // stops, running lines are reported as cancelled, every result so far is kept in input order, exit 130.
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task RunBatch_Sigterm_KeepsResultsSoFarAndReportsCancelledLines()
    {
        string dir = Directory.CreateTempSubdirectory("paged-batch-").FullName;
        try
        {
            string inputPath = Path.Combine(dir, "in.jsonl");
            string outputPath = Path.Combine(dir, "out.jsonl");
            // Far more work than can finish before the signal: 2000 lines of 400 tokens, one sequence at a time.
            File.WriteAllLines(inputPath, Enumerable.Range(0, 2000).Select(i =>
                Request($"r{i}", "/v1/completions", new { prompt = "Once upon a time", max_tokens = 400, ignore_eos = true, temperature = 0 })));
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "paged.dll"), "run-batch", "--model", CliRunner.Model, "-i", inputPath, "-o", outputPath,
                "--max-num-seqs", "1", "--threads", "1", "--progress-interval", "0" })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = new System.Text.StringBuilder();
            while (await p.StandardError.ReadLineAsync() is { } line)
            {
                stderr.AppendLine(line);
                if (line.StartsWith("progress: 1/", StringComparison.Ordinal))
                    break;
            }

            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            stderr.Append(await p.StandardError.ReadToEndAsync());
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(timeout.Token);
            await stdout;

            Assert.AreEqual(130, p.ExitCode, stderr.ToString());
            var match = System.Text.RegularExpressions.Regex.Match(stderr.ToString(), @"interrupted after (\d+) of 2000 requests");
            Assert.IsTrue(match.Success, stderr.ToString());
            var lines = File.ReadAllLines(outputPath).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
            Assert.AreEqual(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), lines.Count);
            Assert.IsLessThan(2000, lines.Count);
            CollectionAssert.AreEqual(Enumerable.Range(0, lines.Count).Select(i => $"r{i}").ToArray(), lines.Select(l => l["custom_id"]!.GetValue<string>()).ToArray());
            Assert.IsTrue(lines.Any(l => l["error"] is null), "a line finished before the signal");
            foreach (var l in lines)
            {
                bool ok = l["error"] is null && l["response"]!["status_code"]!.GetValue<int>() == 200;
                Assert.IsTrue(ok || l["error"]!["code"]!.GetValue<string>() == "cancelled", l.ToJsonString());
            }

            Assert.IsTrue(lines.Any(l => l["error"] is not null), "the running lines were cancelled");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void AssertSucceeded(JsonObject line, string kind)
    {
        Assert.IsNull(line["error"], line.ToJsonString());
        Assert.AreEqual(200, line["response"]!["status_code"]!.GetValue<int>());
        StringAssert.StartsWith(line["response"]!["request_id"]!.GetValue<string>(), "req_");
        Assert.AreEqual(kind, line["response"]!["body"]!["object"]!.GetValue<string>());
        Assert.IsGreaterThan(0, line["response"]!["body"]!["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    private static void AssertLineError(JsonObject line, string code, int lineNumber)
    {
        Assert.IsNull(line["response"], line.ToJsonString());
        Assert.AreEqual(code, line["error"]!["code"]!.GetValue<string>(), line.ToJsonString());
        Assert.AreEqual(lineNumber, line["error"]!["line"]!.GetValue<int>());
        Assert.IsFalse(string.IsNullOrEmpty(line["error"]!["message"]!.GetValue<string>()));
    }

    private static void AssertRefused(JsonObject line, int status, string param, int lineNumber)
    {
        Assert.AreEqual(status, line["response"]!["status_code"]!.GetValue<int>(), line.ToJsonString());
        Assert.AreEqual(param, line["response"]!["body"]!["error"]!["param"]!.GetValue<string>(), line.ToJsonString());
        Assert.AreEqual(lineNumber, line["error"]!["line"]!.GetValue<int>());
        Assert.AreEqual(line["response"]!["body"]!["error"]!["message"]!.GetValue<string>(), line["error"]!["message"]!.GetValue<string>());
    }
}
