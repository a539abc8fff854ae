namespace Paged.Engine.Scheduling;

/// <summary>
/// Fair share across tenants with the Virtual Token Counter (Sheng et al., "Fairness in Serving Large
/// Language Models", OSDI 2024). Each tenant has a counter charged for the service it receives:
/// (input weight x prompt tokens + output weight x generated tokens) / tenant weight. The next request
/// admitted is the head of the backlogged tenant (one with waiting requests) whose counter is smallest.
/// A tenant that becomes backlogged has its counter lifted to the smallest counter among the backlogged
/// tenants (or, when none is, to the counter of the tenant that last left the queue), so credit for idle
/// time cannot be saved up.
/// </summary>
internal sealed class VtcQueue : WaitingQueue
{
    private readonly Dictionary<string, Tenant> _tenants = [];
    private readonly List<Tenant> _order = [];
    private readonly FairShareOptions _options;
    private double _lastLeftCounter;
    private int _count;

    public VtcQueue(FairShareOptions options) => _options = options;

    public override int Count => _count;

    public override IEnumerable<Sequence> Items => _order.SelectMany(t => t.Queue);

    /// <summary>A tenant's virtual token counter (0 for an unknown tenant).</summary>
    public double Counter(string tenant) => _tenants.TryGetValue(tenant, out var t) ? t.Counter : 0;

    private Tenant Get(string name)
    {
        if (!_tenants.TryGetValue(name, out var t))
        {
            double weight = _options.TenantWeights is { } w && w.TryGetValue(name, out double x) ? x : 1.0;
            t = new Tenant(name, weight);
            _tenants.Add(name, t);
            _order.Add(t);
        }

        return t;
    }

    public override void Enqueue(Sequence seq)
    {
        var t = Get(seq.Request.Tenant);
        if (t.Queue.Count == 0)
        {
            double lift = _lastLeftCounter;
            bool any = false;
            foreach (var o in _order)
            {
                if (o.Queue.Count > 0 && (!any || o.Counter < lift))
                {
                    lift = o.Counter;
                    any = true;
                }
            }

            t.Counter = Math.Max(t.Counter, lift);
        }

        t.Queue.Add(seq);
        _count++;
    }

    public override void Requeue(Sequence seq)
    {
        Get(seq.Request.Tenant).Queue.Insert(0, seq);
        _count++;
    }

    public override Sequence? Peek()
    {
        Tenant? best = null;
        foreach (var t in _order)
        {
            if (t.Queue.Count > 0 && (best is null || t.Counter < best.Counter
                || (t.Counter == best.Counter && t.Queue[0].Request.Id < best.Queue[0].Request.Id)))
                best = t;
        }

        return best?.Queue[0];
    }

    public override void Dequeue(Sequence seq)
    {
        var t = Get(seq.Request.Tenant);
        t.Queue.RemoveAt(0);
        _count--;
        if (t.Queue.Count == 0)
            _lastLeftCounter = t.Counter;
    }

    public override bool Remove(Sequence seq)
    {
        if (!_tenants.TryGetValue(seq.Request.Tenant, out var t) || !t.Queue.Remove(seq))
            return false;
        _count--;
        if (t.Queue.Count == 0)
            _lastLeftCounter = t.Counter;
        return true;
    }

    public override void OnServed(Sequence seq, int promptTokens, int outputTokens)
    {
        var t = Get(seq.Request.Tenant);
        t.Counter += ((_options.InputWeight * promptTokens) + (_options.OutputWeight * outputTokens)) / t.Weight;
    }

    private sealed class Tenant(string name, double weight)
    {
        public string Name { get; } = name;

        public double Weight { get; } = weight;

        public double Counter { get; set; }

        public List<Sequence> Queue { get; } = [];
    }
}
