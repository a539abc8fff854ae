namespace Paged.Server.Router;

/// <summary>What an instance does in disaggregated serving (its <c>paged serve --role</c>).</summary>
public enum InstanceRole
{
    Prefill,
    Decode,
    Both,
}

/// <summary>
/// One upstream instance as the router sees it: health from the poller, a failure cooldown from failed calls,
/// and load (running + waiting requests) from its /metrics plus the requests sent to it since that reading.
/// </summary>
internal sealed class UpstreamInstance(Uri baseAddress, InstanceRole role)
{
    private readonly Lock _lock = new();
    private bool _pollHealthy = true;
    private long _coolUntil;
    private double? _load;
    private int _sentSincePoll;

    public Uri BaseAddress { get; } = baseAddress;

    public InstanceRole Role { get; } = role;

    /// <summary>The metric label: the URL without its trailing slash.</summary>
    public string Name { get; } = baseAddress.AbsoluteUri.TrimEnd('/');

    public string RoleLabel => Role.ToString().ToLowerInvariant();

    public bool PollHealthy
    {
        get
        {
            lock (_lock)
                return _pollHealthy;
        }
    }

    /// <summary>Running + waiting requests at the last successful /metrics read; null when that read failed or lacked the gauges.</summary>
    public double? Load
    {
        get
        {
            lock (_lock)
                return _load;
        }
    }

    /// <summary>Healthy by the last poll and not cooling down after a failed call.</summary>
    public bool IsEligible(long now)
    {
        lock (_lock)
            return _pollHealthy && now >= _coolUntil;
    }

    /// <summary>The load used to choose between instances: the last reading plus what the router sent since; null when unknown.</summary>
    public double? ChoiceLoad()
    {
        lock (_lock)
            return _load + _sentSincePoll;
    }

    public void Sent()
    {
        lock (_lock)
            _sentSincePoll++;
    }

    public void Polled(bool healthy, double? load)
    {
        lock (_lock)
        {
            _pollHealthy = healthy;
            _load = load;
            _sentSincePoll = 0;
        }
    }

    /// <summary>A call failed: skip the instance until <paramref name="until"/> (a <see cref="TimeProvider"/> timestamp).</summary>
    public void CoolDown(long until)
    {
        lock (_lock)
            _coolUntil = Math.Max(_coolUntil, until);
    }
}
