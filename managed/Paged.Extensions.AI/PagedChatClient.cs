using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using Paged.Engine;

namespace Paged.Extensions.AI;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over an <see cref="AsyncEngine"/> (which it does not
/// own). The engine generates from text, so the conversation is rendered to a prompt by a formatter the caller
/// supplies: the model's chat template, or <see cref="TranscriptPrompt"/> for a model without one. Options map
/// onto <see cref="SamplingParams"/>; a request that fails in the engine throws.
/// </summary>
public sealed class PagedChatClient : IChatClient
{
    private readonly AsyncEngine _engine;
    private readonly Func<IEnumerable<ChatMessage>, string> _formatPrompt;
    private readonly ChatClientMetadata _metadata;

    public PagedChatClient(AsyncEngine engine, string modelId, Func<IEnumerable<ChatMessage>, string>? formatPrompt = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        _engine = engine;
        _formatPrompt = formatPrompt ?? TranscriptPrompt;
        _metadata = new ChatClientMetadata("paged", providerUri: null, defaultModelId: modelId);
    }

    /// <summary>A plain transcript, one "role: text" line per message, ending with "assistant:" for the reply.</summary>
    public static string TranscriptPrompt(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var prompt = new StringBuilder();
        foreach (var m in messages)
            prompt.Append(CultureInfo.InvariantCulture, $"{m.Role.Value}: {m.Text}\n");
        return prompt.Append("assistant:").ToString();
    }

    /// <summary>The engine's sampling parameters for <paramref name="options"/> (temperature 1 and 256 tokens unless given, as OpenAI's API).</summary>
    public static SamplingParams ToSampling(ChatOptions? options) => new()
    {
        Temperature = options?.Temperature ?? 1f,
        TopP = options?.TopP ?? 1f,
        TopK = options?.TopK ?? 0,
        FrequencyPenalty = options?.FrequencyPenalty ?? 0,
        PresencePenalty = options?.PresencePenalty ?? 0,
        Seed = options?.Seed is long seed ? unchecked((ulong)seed) : null,
        MaxTokens = options?.MaxOutputTokens ?? 256,
        Stop = options?.StopSequences is { } stops ? [.. stops] : [],
    };

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var request = new GenerationRequest { Prompt = _formatPrompt(messages), Sampling = ToSampling(options) };
        string? responseId = null;
        var created = DateTimeOffset.UtcNow;
        await foreach (var output in _engine.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            responseId ??= $"paged-{output.RequestId}";
            var completion = output.Completions[0];
            var update = new ChatResponseUpdate(ChatRole.Assistant, completion.TextDelta)
            {
                ResponseId = responseId,
                MessageId = responseId,
                ModelId = options?.ModelId ?? _metadata.DefaultModelId,
                CreatedAt = created,
                RawRepresentation = output,
            };
            if (output.Finished)
            {
                update.FinishReason = output.FinishReason switch
                {
                    FinishReason.Stop => ChatFinishReason.Stop,
                    FinishReason.Length => ChatFinishReason.Length,
                    _ => throw new InvalidOperationException($"the engine ended the request ({output.FinishReason}): {output.Error ?? "aborted"}"),
                };
                update.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = output.PromptTokenIds.Count,
                    OutputTokenCount = completion.TokenIds.Count,
                    TotalTokenCount = output.PromptTokenIds.Count + completion.TokenIds.Count,
                }));
            }

            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
            return null;
        if (serviceType == typeof(ChatClientMetadata))
            return _metadata;
        if (serviceType == typeof(AsyncEngine))
            return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Nothing to release: the engine belongs to the caller.</summary>
    public void Dispose()
    {
    }
}
