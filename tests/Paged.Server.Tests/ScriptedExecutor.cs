using Paged.Engine;

namespace Paged.Server.Tests;

/// <summary>
/// The real executor, whose sampled tokens are then replaced by a script (the same for every sequence: the
/// N-th generated token is script[N], then EOS), so a test controls exactly what the "model" writes.
/// </summary>
internal sealed class ScriptedExecutor(IModelExecutor inner, IReadOnlyList<int> script, int eosId) : IModelExecutor
{
    public void Execute(StepPlan plan, List<(Sequence Seq, int Token)> sampled)
    {
        inner.Execute(plan, sampled);
        for (int i = 0; i < sampled.Count; i++)
        {
            var (seq, token) = sampled[i];
            if (token >= 0)
                sampled[i] = (seq, seq.NumGenerated < script.Count ? script[seq.NumGenerated] : eosId);
        }
    }

    public void Dispose() => inner.Dispose();
}
