namespace Paged.Engine;

/// <summary>
/// Enforces the engine's single-thread rule: a second thread entering while one is inside gets a clear
/// <see cref="InvalidOperationException"/> instead of a corrupt step. Re-entry on the owning thread is allowed
/// (the facade calls into the core).
/// </summary>
internal sealed class SingleThreadGuard(string owner)
{
    private int _thread;

    public Scope Enter(string operation)
    {
        int me = Environment.CurrentManagedThreadId;
        int held = Interlocked.CompareExchange(ref _thread, me, 0);
        if (held == 0)
            return new Scope(this, owns: true);
        if (held == me)
            return new Scope(this, owns: false);
        throw new InvalidOperationException(
            $"{owner}.{operation} was called on thread {me} while thread {held} is inside the {owner}: " +
            "the engine serves one thread at a time; share it between threads through AsyncEngine");
    }

    public readonly struct Scope : IDisposable
    {
        private readonly SingleThreadGuard? _guard;

        internal Scope(SingleThreadGuard guard, bool owns) => _guard = owns ? guard : null;

        public void Dispose()
        {
            if (_guard is not null)
                Volatile.Write(ref _guard._thread, 0);
        }
    }
}
