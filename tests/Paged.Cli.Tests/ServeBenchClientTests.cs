using System.Net;
using System.Text;
using System.Text.Json;
using Paged.Cli.ServeBench;

namespace Paged.Cli.Tests;

/// <summary>
/// <c>paged bench serve</c>'s request loop against a minimal OpenAI-style streaming server on loopback
/// (HttpListener): every request is answered with its max_tokens chunks and a usage chunk, and the
/// server records how many requests were in flight at once.
/// </summary>
[TestClass]
public sealed class ServeBenchClientTests
{
    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task Concurrency_cap_holds_and_every_request_is_measured()
    {
        await using var server = new FakeStreamingServer();
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var client = new CompletionStreamClient(http, "/v1/completions", "fake");
        var workload = ServeWorkload.Random(24, 6, 5, 0.4, 0, (3, 50), null, new Random(5));
        var offsets = ArrivalSchedule.Offsets(workload.Count, double.PositiveInfinity, 1, new Random(5));

        var (records, seconds) = await ServeBenchRunner.RunOnce(client, workload, offsets, maxConcurrency: 3);

        Assert.HasCount(24, records);
        Assert.IsTrue(records.All(r => r.Success), string.Join("; ", records.Select(r => r.Error)));
        CollectionAssert.AreEqual(workload.Select(w => w.OutputTokens).ToArray(), records.Select(r => r.OutputTokens).ToArray());
        CollectionAssert.AreEquivalent(workload.Select(w => w.PromptTokens).ToArray(), server.PromptLengths.ToArray());
        // The server holds its first answers until three requests are in flight (so a cap below 3 would
        // hang until the timeout); a cap that does not hold shows as more than three at once.
        Assert.AreEqual(3, server.MaxInFlight, "requests in flight at once with --max-concurrency 3");
        Assert.IsTrue(records.All(r => r.Itl.Count == r.OutputTokens - 1));
        Assert.IsTrue(seconds > 0);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task Http_errors_are_failures_with_the_status()
    {
        await using var server = new FakeStreamingServer { FailWith = HttpStatusCode.ServiceUnavailable, Gate = 1 };
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var client = new CompletionStreamClient(http, "/v1/completions", "fake");
        var r = await client.SendAsync(new ServeRequestSpec([1, 2], null, 2, 3, null), CancellationToken.None);
        Assert.IsFalse(r.Success);
        StringAssert.Contains(r.Error, "503");
    }

    /// <summary>
    /// Answers POST /v1/completions with one SSE chunk per requested token. The first answers wait until
    /// <see cref="Gate"/> requests are in flight together.
    /// </summary>
    private sealed class FakeStreamingServer : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Task _loop;
        private int _inFlight;
        private int _maxInFlight;
        private readonly TaskCompletionSource _gateOpen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public FakeStreamingServer()
        {
            for (int attempt = 0; ; attempt++)
            {
                int port = 20000 + Random.Shared.Next(20000);
                BaseAddress = new Uri($"http://127.0.0.1:{port}/");
                _listener.Prefixes.Clear();
                _listener.Prefixes.Add(BaseAddress.ToString());
                try
                {
                    _listener.Start();
                    break;
                }
                catch (HttpListenerException) when (attempt < 20)
                {
                }
            }

            _loop = Task.Run(AcceptLoop);
        }

        public Uri BaseAddress { get; }

        public HttpStatusCode? FailWith { get; init; }

        public int MaxInFlight => Volatile.Read(ref _maxInFlight);

        public int Gate { get; init; } = 3;

        public List<int> PromptLengths { get; } = [];

        private async Task AcceptLoop()
        {
            var handlers = new List<Task>();
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try
                {
                    ctx = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    break;
                }

                handlers.Add(Task.Run(() => Handle(ctx)));
            }

            await Task.WhenAll(handlers);
        }

        private async Task Handle(HttpListenerContext ctx)
        {
            int now = Interlocked.Increment(ref _inFlight);
            if (now >= Gate)
                _gateOpen.TrySetResult();
            int seen;
            do
            {
                seen = Volatile.Read(ref _maxInFlight);
            }
            while (now > seen && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen);
            try
            {
                using var doc = await JsonDocument.ParseAsync(ctx.Request.InputStream);
                lock (PromptLengths)
                    PromptLengths.Add(doc.RootElement.GetProperty("prompt").GetArrayLength());
                if (FailWith is HttpStatusCode status)
                {
                    ctx.Response.StatusCode = (int)status;
                    ctx.Response.Close();
                    return;
                }

                await _gateOpen.Task;
                int tokens = doc.RootElement.GetProperty("max_tokens").GetInt32();
                ctx.Response.ContentType = "text/event-stream";
                ctx.Response.SendChunked = true;
                var output = ctx.Response.OutputStream;
                for (int i = 0; i < tokens; i++)
                {
                    await Write(output, $"data: {{\"choices\":[{{\"index\":0,\"text\":\"t{i}\"}}]}}\n\n");
                }

                await Write(output, $"data: {{\"choices\":[],\"usage\":{{\"completion_tokens\":{tokens}}}}}\n\ndata: [DONE]\n\n");
                ctx.Response.Close();
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }

        private static async Task Write(Stream s, string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            await s.WriteAsync(bytes);
            await s.FlushAsync();
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
        }
    }
}
