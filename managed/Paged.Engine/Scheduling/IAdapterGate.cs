namespace Paged.Engine.Scheduling;

/// <summary>
/// Keeps the adapters of running sequences resident (LoRA slots): the scheduler admits a sequence only when
/// <see cref="CanRun"/> says its adapter fits, pins it when the sequence starts running and unpins it when it stops.
/// </summary>
public interface IAdapterGate
{
    bool CanRun(Request request);

    void Pin(Request request);

    void Unpin(Request request);
}
