using Paged.Engine;

namespace Paged.Examples.Embedding;

/// <summary>The README's embedding sample: one engine shared by concurrent requests, text streamed as it is generated.</summary>
public static class StoryStreamer
{
    public static async Task<IReadOnlyList<RequestOutput>> RunAsync(string modelPath, IReadOnlyList<string> prompts, TextWriter output, CancellationToken cancellationToken = default)
    {
        // One background thread owns the model; any number of callers share it (continuous batching).
        await using var engine = AsyncEngine.Create(modelPath, tokenizerPath: null, new EngineOptions { Device = "cpu", MaxNumSeqs = 8 });

        var runs = prompts.Select(async (prompt, i) =>
        {
            var request = new GenerationRequest
            {
                Prompt = prompt,
                RequestId = $"story-{i}",
                Sampling = new SamplingParams { MaxTokens = 48, Temperature = 0.8f, Seed = 42, Stop = ["."] },
            };

            RequestOutput? last = null;
            // Each output carries the step's delta (TextDelta, NewTokenIds) and the snapshot so far; the last has Finished set.
            // Cancelling the token, or leaving the loop early, aborts the request and frees its KV cache blocks.
            await foreach (var step in engine.GenerateAsync(request, cancellationToken))
            {
                if (i == 0)
                    await output.WriteAsync(step.TextDelta); // the first story streams as it is generated
                last = step;
            }

            return last!;
        }).ToList();

        var results = await Task.WhenAll(runs);
        await output.WriteLineAsync();
        foreach (var r in results)
        {
            await output.WriteLineAsync(
                $"{r.ExternalId}: {r.TokenIds.Count} tokens, {r.FinishReason} (stop: {r.Completions[0].StopString ?? "-"}), " +
                $"first token after {r.Timings.FirstTokenSeconds:F3} s: {r.Prompt}{r.Text}");
        }

        var stats = engine.Snapshot; // thread-safe: scheduler state, KV blocks in use, counters
        await output.WriteLineAsync($"{stats.Counters.TokensGenerated} tokens generated in {stats.Counters.Steps} steps, {stats.Step.KvBlocksUsed} KV blocks in use");
        return results;
    }
}
