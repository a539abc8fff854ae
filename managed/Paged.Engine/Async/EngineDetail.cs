using Paged.Engine.Kv;
using Paged.Engine.Scheduling;

namespace Paged.Engine;

/// <summary>
/// An <see cref="EngineSnapshot"/> with what is too large to copy after every step: each KV block's state and
/// the work per tenant. Taken on the engine's thread on request (<see cref="AsyncEngine.GetDetailAsync"/>), so
/// the three parts describe the same moment; immutable, safe to read on any thread.
/// </summary>
public sealed record EngineDetail(EngineSnapshot Snapshot, KvBlockMap KvBlocks, IReadOnlyList<TenantLoad> Tenants, SchedulingPolicy Policy);
