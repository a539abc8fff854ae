namespace Paged.Server.Router;

/// <summary>
/// The instances by role and how one is chosen: when every eligible candidate has a load reading, the least
/// loaded one (ties go round robin); when any lacks one, plain round robin. An instance whose call failed is
/// skipped for a cooldown.
/// </summary>
internal sealed class InstancePool
{
    private readonly Dictionary<InstanceRole, UpstreamInstance[]> _byRole;
    private readonly Dictionary<InstanceRole, int> _next = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _cooldown;

    public InstancePool(RouterOptions options, TimeProvider time)
    {
        _time = time;
        _cooldown = options.FailureCooldown;
        _byRole = new()
        {
            [InstanceRole.Prefill] = [.. options.Prefill.Select(u => new UpstreamInstance(u, InstanceRole.Prefill))],
            [InstanceRole.Decode] = [.. options.Decode.Select(u => new UpstreamInstance(u, InstanceRole.Decode))],
            [InstanceRole.Both] = [.. options.Both.Select(u => new UpstreamInstance(u, InstanceRole.Both))],
        };
    }

    public IEnumerable<UpstreamInstance> All => _byRole.Values.SelectMany(v => v);

    public bool AnyEligible(InstanceRole role)
    {
        long now = _time.GetTimestamp();
        return _byRole[role].Any(i => i.IsEligible(now));
    }

    /// <summary>The instance of <paramref name="role"/> the next call goes to, skipping <paramref name="tried"/>; null when none is eligible.</summary>
    public UpstreamInstance? Choose(InstanceRole role, IReadOnlyCollection<UpstreamInstance> tried)
    {
        long now = _time.GetTimestamp();
        var candidates = _byRole[role].Where(i => i.IsEligible(now) && !tried.Contains(i)).ToArray();
        if (candidates.Length == 0)
            return null;
        lock (_lock)
        {
            int start = _next.GetValueOrDefault(role);
            _next[role] = start + 1 == int.MaxValue ? 0 : start + 1;
            var loads = candidates.Select(c => c.ChoiceLoad()).ToArray();
            bool allKnown = loads.All(l => l is not null);
            int best = -1;
            for (int k = 0; k < candidates.Length; k++)
            {
                int i = (start + k) % candidates.Length;
                if (!allKnown)
                {
                    best = i;
                    break;
                }

                if (best < 0 || loads[i] < loads[best])
                    best = i;
            }

            candidates[best].Sent();
            return candidates[best];
        }
    }

    /// <summary>A call to <paramref name="instance"/> failed: skip it for the cooldown.</summary>
    public void Failed(UpstreamInstance instance) => instance.CoolDown(_time.GetTimestamp() + (long)(_cooldown.TotalSeconds * _time.TimestampFrequency));
}
