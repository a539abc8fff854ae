using System.ClientModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using OpenAI;
using OpenAI.Chat;
using Paged.Engine;
using Paged.Models;
using Paged.Models.Templates;
using Paged.Models.Tokenization;

namespace Paged.Server.Tests;

/// <summary>A Paged server on 127.0.0.1 (a free port) in this process, over stories260K on the CPU, with a gated executor.</summary>
internal sealed partial class TestServer : IAsyncDisposable
{
    public const string ModelName = "stories260K";

    private TestServer(AsyncEngine engine, PagedServer server, GatedExecutor gate, ServerOptions options)
    {
        Engine = engine;
        Server = server;
        Gate = gate;
        Options = options;
        BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/");
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        if (options.ApiKey is { } key)
            Http.DefaultRequestHeaders.Authorization = new("Bearer", key);
    }

    public static string Shared { get; } = FindShared();

    public static string ModelPath => Path.Combine(Shared, "models", "stories260K", "stories260K.bin");

    public AsyncEngine Engine { get; }

    public PagedServer Server { get; }

    public GatedExecutor Gate { get; }

    public ServerOptions Options { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public static EngineOptions DefaultEngineOptions => new() { Device = "cpu", NumThreads = 1, MaxNumSeqs = 64 };

    /// <param name="wrapExecutor">Wraps the real executor (e.g. to script the sampled tokens), inside the gate.</param>
    public static async Task<TestServer> StartAsync(ServerOptions? options = null, EngineOptions? engineOptions = null, int maxPending = 1024, string? modelPath = null, Func<IModelExecutor, IModelExecutor>? wrapExecutor = null)
    {
        options = (options ?? new ServerOptions()) with { Host = "127.0.0.1", Port = 0, ServedModelName = ModelName };
        engineOptions ??= DefaultEngineOptions;
        modelPath ??= ModelPath;
        var weights = ModelLoader.Load(modelPath);
        ITokenizer tokenizer = TokenizerLoader.Load(modelPath, null, weights.Config);
        IModelExecutor runner = ModelRunner.Create(weights, engineOptions, EngineShape.From(weights.Config, engineOptions));
        var gate = new GatedExecutor(wrapExecutor?.Invoke(runner) ?? runner);
        var llm = new LlmEngine(gate, weights.Config, tokenizer, engineOptions);
        var engine = new AsyncEngine(llm, new AsyncEngineOptions { MaxPendingRequests = maxPending });
        var server = await PagedServer.StartAsync(engine, new ChatTemplate(ChatPrompt.DefaultTemplate), options);
        return new TestServer(engine, server, gate, options);
    }

    public OpenAIClient OpenAI(string? apiKey = null) =>
        new(new ApiKeyCredential(apiKey ?? Options.ApiKey ?? "unused"), new OpenAIClientOptions { Endpoint = new Uri(BaseAddress, "v1"), NetworkTimeout = TimeSpan.FromSeconds(120) });

    public ChatClient Chat(string? apiKey = null) => OpenAI(apiKey).GetChatClient(ModelName);

    public async Task<(int Status, JsonElement Body)> PostAsync(string path, object body, CancellationToken cancellationToken = default)
    {
        using var response = await Http.PostAsJsonAsync(path, body, cancellationToken);
        return ((int)response.StatusCode, await ReadJsonAsync(response, cancellationToken));
    }

    public async Task<(int Status, JsonElement Body)> PostRawAsync(string path, byte[] body, CancellationToken cancellationToken = default)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await Http.PostAsync(path, content, cancellationToken);
        return ((int)response.StatusCode, await ReadJsonAsync(response, cancellationToken));
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Streams an SSE response: every data payload until [DONE] (included) or the end.</summary>
    public async Task<List<string>> StreamAsync(string path, object body, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.AreEqual(200, (int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
                events.Add(line[6..]);
        }

        return events;
    }

    /// <summary>One sample of a metric from /metrics (labels given as they appear, e.g. finished_reason="abort").</summary>
    public async Task<double> MetricAsync(string name, string? label = null)
    {
        string text = await Http.GetStringAsync("metrics");
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name + "{", StringComparison.Ordinal) && line.Contains($"model_name=\"{ModelName}\"", StringComparison.Ordinal)
                && (label is null || line.Contains(label, StringComparison.Ordinal)))
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        throw new AssertFailedException($"metric {name} {label} not found in /metrics:\n{text}");
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) until the server reports no KV blocks in use; returns the last value.</summary>
    public async Task<double> WaitForKvBlocksFreedAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        double used;
        while ((used = await MetricAsync("paged_kv_cache_blocks_used")) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        return used;
    }

    public async ValueTask DisposeAsync()
    {
        Gate.Open();
        Http.Dispose();
        await Server.DisposeAsync();
        await Engine.DisposeAsync();
    }

    private static string FindShared()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
        }

        throw new DirectoryNotFoundException("no Kernels.sln above the test directory");
    }

    [GeneratedRegex("listening on http://127\\.0\\.0\\.1:(\\d+)")]
    public static partial Regex ListeningLine();
}
