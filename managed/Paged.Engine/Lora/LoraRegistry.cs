using System.Collections.Concurrent;
using Paged.Models;
using Paged.Models.Lora;

namespace Paged.Engine.Lora;

/// <summary>
/// The adapters an engine serves, by name (thread-safe: loads and lookups run on callers' threads, reading files
/// there, never on the engine's step thread). Also counts each adapter's live requests, so an unload can wait for
/// them (<see cref="WhenDrained"/>). Which adapters sit in device slots is <see cref="LoraResidency"/>'s business.
/// </summary>
public sealed class LoraRegistry(ModelConfig config, int maxLoras, int maxRank)
{
    private readonly ConcurrentDictionary<string, LoraAdapter> _byName = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, Drain> _live = new();

    /// <summary>True when the engine was built with LoRA slots (max_loras &gt; 0).</summary>
    public bool Enabled => maxLoras > 0;

    public int MaxRank => maxRank;

    /// <summary>Element type of the device slots the adapters are copied into (f32 or bf16; --lora-dtype, resolved).</summary>
    public Paged.Runtime.Interop.DType SlotDType { get; init; }

    /// <summary>The registered adapters (a snapshot).</summary>
    public IReadOnlyList<LoraAdapter> Adapters => [.. _byName.Values.OrderBy(a => a.Id)];

    /// <summary>
    /// Reads and checks the adapter at <paramref name="path"/> and registers it as <paramref name="name"/>. Throws
    /// <see cref="ArgumentException"/> (LoRA off, name taken) or <see cref="ModelFormatException"/> (bad adapter).
    /// </summary>
    public LoraAdapter Load(string name, string path)
    {
        if (!Enabled)
            throw new ArgumentException("this engine was built without LoRA support (max_loras = 0)");
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (_byName.ContainsKey(name))
            throw new ArgumentException($"an adapter named '{name}' is already loaded");
        var adapter = LoraAdapterLoader.Load(name, path, config, maxRank);
        if (!_byName.TryAdd(name, adapter))
            throw new ArgumentException($"an adapter named '{name}' is already loaded");
        return adapter;
    }

    public LoraAdapter? Find(string name) => _byName.TryGetValue(name, out var a) ? a : null;

    /// <summary>The adapter a request names; throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public LoraAdapter Resolve(string name) =>
        Find(name) ?? throw new ArgumentException(
            Enabled ? $"unknown LoRA adapter '{name}'" : $"unknown LoRA adapter '{name}': this engine was built without LoRA support");

    /// <summary>Unregisters <paramref name="name"/>: new requests for it fail at once; running ones go on.</summary>
    public LoraAdapter? Remove(string name) => _byName.TryRemove(name, out var a) ? a : null;

    /// <summary>Completes when no live request uses <paramref name="adapter"/>.</summary>
    public Task WhenDrained(LoraAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        return _live.TryGetValue(adapter.Id, out var d) ? d.Task : Task.CompletedTask;
    }

    /// <summary>Live requests using <paramref name="adapter"/>.</summary>
    public int LiveRequests(LoraAdapter adapter) => _live.TryGetValue(adapter.Id, out var d) ? d.Count : 0;

    internal void Track(LoraAdapter adapter)
    {
        var d = _live.GetOrAdd(adapter.Id, _ => new Drain());
        lock (d)
            d.Count++;
    }

    internal void Untrack(LoraAdapter adapter)
    {
        if (!_live.TryGetValue(adapter.Id, out var d))
            return;
        lock (d)
        {
            if (--d.Count > 0)
                return;
            _live.TryRemove(adapter.Id, out _);
            d.Done.TrySetResult();
        }
    }

    private sealed class Drain
    {
        public int Count;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Task => Done.Task;
    }
}
