namespace Paged.Engine;

/// <summary>What one <see cref="EngineCore.Step"/> did. Reused by the next step.</summary>
public sealed class CoreStepResult
{
    private readonly HashSet<Request> _touched = [];

    internal CoreStepResult()
    {
    }

    /// <summary>The executed plan (empty when nothing ran).</summary>
    public StepPlan Plan { get; internal set; } = new();

    /// <summary>(sequence, token) in sampling order; token -1 marks a failed sample row.</summary>
    public List<(Sequence Seq, int Token)> Sampled { get; } = [];

    /// <summary>Requests that sampled a token or failed in this step, each once.</summary>
    public List<Request> Touched { get; } = [];

    /// <summary>Requests scheduled for the first time in this step (they left the admission queue).</summary>
    public List<Request> NewlyScheduled { get; } = [];

    /// <summary>Why the step failed, when the executor threw (its requests then finished with an error).</summary>
    public string? Fault { get; internal set; }

    internal void Clear()
    {
        Sampled.Clear();
        Touched.Clear();
        _touched.Clear();
        NewlyScheduled.Clear();
        Fault = null;
    }

    internal void Touch(Request request)
    {
        if (_touched.Add(request))
            Touched.Add(request);
    }
}
