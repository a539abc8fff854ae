namespace Paged.Engine.Scheduling;

/// <summary>
/// One tenant's part of the scheduler's work at one moment: its sequences running, waiting and swapped, and
/// its virtual token counter (the service the fair policy has charged it, weighted; 0 under other policies).
/// </summary>
public sealed record TenantLoad(string Tenant, int Running, int Waiting, int Swapped, double Counter)
{
    /// <summary>Groups the scheduler's sequences by tenant (the empty tenant included). Call it on the thread that owns the scheduler.</summary>
    public static IReadOnlyList<TenantLoad> Capture(Scheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        var counts = new SortedDictionary<string, int[]>(StringComparer.Ordinal);
        IEnumerable<Sequence>[] lists = [scheduler.Running, scheduler.Waiting, scheduler.Swapped];
        for (int list = 0; list < lists.Length; list++)
        {
            foreach (var seq in lists[list])
            {
                if (!counts.TryGetValue(seq.Request.Tenant, out var c))
                    counts.Add(seq.Request.Tenant, c = new int[lists.Length]);
                c[list]++;
            }
        }

        return counts.Select(kv => new TenantLoad(kv.Key, kv.Value[0], kv.Value[1], kv.Value[2], scheduler.TenantCounter(kv.Key))).ToList();
    }
}
