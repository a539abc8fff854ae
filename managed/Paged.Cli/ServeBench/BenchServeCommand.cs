using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Paged.Cli.ServeBench;

/// <summary>
/// <c>paged bench serve</c>: sends a dataset to a running server at a request rate (or a sweep of rates),
/// optionally capped at a concurrency, and reports throughput, latency percentiles and goodput.
/// </summary>
internal static class BenchServeCommand
{
    public static int Run(BenchServeOptions o)
    {
        var rates = ArrivalSchedule.ParseRates(o.RequestRate);
        var slo = Slo.Parse(o.Goodput);
        if (o.NumPrompts < 1 || o.MaxConcurrency < 0 || !(o.TimeoutSeconds > 0))
            throw new ArgumentException("--num-prompts must be >= 1, --max-concurrency >= 0 and --timeout > 0");
        var baseUri = HttpAddress(o.DisaggDecode ?? o.BaseUrl, o.DisaggDecode is null ? "--base-url" : "--disagg-decode");
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds) };
        using var prefill = o.DisaggPrefill is null ? null
            : new HttpClient { BaseAddress = HttpAddress(o.DisaggPrefill, "--disagg-prefill"), Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds) };
        string? key = o.ApiKey ?? Environment.GetEnvironmentVariable("PAGED_API_KEY");
        if (!string.IsNullOrEmpty(key))
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        string model = o.Model ?? FirstModel(http);
        var client = new CompletionStreamClient(http, o.Endpoint, model) { DisaggregatedPrefill = prefill };
        var results = new List<ServeBenchResult>();
        foreach (double rate in rates)
        {
            var random = new Random(unchecked((int)o.Seed) ^ 0x5EED);
            var workload = BuildWorkload(o, random);
            var offsets = ArrivalSchedule.Offsets(workload.Count, rate, o.Burstiness, random);
            Console.Error.WriteLine($"bench serve: {workload.Count} requests at {ServeBenchReport.Rate(rate)} req/s (burstiness {o.Burstiness}, " +
                                    $"max concurrency {(o.MaxConcurrency == 0 ? "unlimited" : o.MaxConcurrency)}) to {baseUri}{o.Endpoint.TrimStart('/')}, model {model}");
            var (records, seconds) = ServeBenchRunner.RunOnce(client, workload, offsets, o.MaxConcurrency).GetAwaiter().GetResult();
            var result = ServeBenchResult.From(records, seconds, rate, o.MaxConcurrency, slo);
            results.Add(result);
            Console.Error.WriteLine($"  {result.Completed} done, {result.Failed} failed in {seconds:F2} s: {result.RequestThroughput:F2} req/s, " +
                                    $"{result.OutputThroughput:F1} output tok/s, TTFT p99 {result.TtftMs.P99:F1} ms, TPOT p99 {result.TpotMs.P99:F1} ms");
            foreach (string e in result.Errors)
                Console.Error.WriteLine($"  error: {e}");
        }

        Console.WriteLine(ServeBenchReport.ToMarkdown(results));
        if (o.ResultFile is not null)
            File.WriteAllText(o.ResultFile, ServeBenchReport.ToJson(results));
        if (o.Plot is not null)
            LatencyPlot.Save(results, o.Plot);
        return results.All(r => r.Failed == 0) ? 0 : 1;
    }

    private static Uri HttpAddress(string url, string option) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == "http" || uri.Scheme == "https")
            ? uri
            : throw new ArgumentException($"{option} '{url}' is not an http(s) address");

    private static List<ServeRequestSpec> BuildWorkload(BenchServeOptions o, Random random)
    {
        var tenants = o.Tenants is null ? null : TenantMix.Parse(o.Tenants);
        var specs = o.Dataset.ToLowerInvariant() switch
        {
            "random" => ServeWorkload.Random(o.NumPrompts, o.RandomInputLen, o.RandomOutputLen, o.RandomRangeRatio, o.RandomPrefixLen,
                ServeWorkload.ParseTokenRange(o.RandomTokenRange), tenants, random),
            "sharegpt" => ServeWorkload.ShareGpt(o.DatasetPath ?? throw new ArgumentException("--dataset sharegpt needs --dataset-path"),
                o.NumPrompts, o.ShareGptOutputLen, tenants, random),
            _ => throw new ArgumentException($"unknown --dataset '{o.Dataset}': use random or sharegpt"),
        };
        return LongPromptMix.Apply(specs, o.LongFraction, o.LongInputLen, ServeWorkload.ParseTokenRange(o.RandomTokenRange), random);
    }

    private static string FirstModel(HttpClient http)
    {
        try
        {
            using var response = http.GetAsync("/v1/models").GetAwaiter().GetResult();
            response.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            var data = doc.RootElement.GetProperty("data");
            if (data.GetArrayLength() > 0)
                return data[0].GetProperty("id").GetString() ?? throw new FormatException("a model without an id");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or TaskCanceledException)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"cannot list the server's models at {http.BaseAddress}v1/models ({e.Message}); pass --model"), e);
        }

        throw new ArgumentException("the server lists no model; pass --model");
    }
}
