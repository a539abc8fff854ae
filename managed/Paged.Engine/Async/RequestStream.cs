using System.Threading.Channels;

namespace Paged.Engine;

/// <summary>One request inside <see cref="AsyncEngine"/>: what was asked, and the channel its outputs go to.</summary>
internal sealed class RequestStream(PreparedRequest prepared)
{
    private volatile bool _completed;

    public PreparedRequest Prepared { get; } = prepared;

    /// <summary>Unbounded, so the engine's loop never waits for a slow reader.</summary>
    public Channel<RequestOutput> Output { get; } =
        Channel.CreateUnbounded<RequestOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>The engine's request id once the loop queued it (-1 before).</summary>
    public long Id { get; set; } = -1;

    /// <summary>It left the admission queue: scheduled at least once (loop thread only).</summary>
    public bool Started { get; set; }

    /// <summary>The output channel is complete (written by the loop thread, read by the consumer).</summary>
    public bool IsCompleted
    {
        get => _completed;
        set => _completed = value;
    }

    public CancellationTokenRegistration Registration { get; set; }
}
