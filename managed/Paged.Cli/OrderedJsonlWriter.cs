using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paged.Cli;

/// <summary>
/// Writes results as JSON lines in input order while they finish in any order: a result waits only until the
/// results before it are written. Thread-safe.
/// </summary>
internal sealed class OrderedJsonlWriter(TextWriter output)
{
    // Quotes and non-ASCII text stay readable ("it's", not "it\u0027s"), as Python's batch tools write them.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Dictionary<int, JsonObject> _waiting = [];
    private readonly Lock _lock = new();
    private int _next;

    /// <summary>Results written so far.</summary>
    public int Written
    {
        get
        {
            lock (_lock)
                return _next;
        }
    }

    /// <summary>Adds the result of input <paramref name="index"/> (0-based, each exactly once).</summary>
    public void Add(int index, JsonObject line)
    {
        lock (_lock)
        {
            if (index < _next || !_waiting.TryAdd(index, line))
                throw new InvalidOperationException($"result {index} was added twice");
            while (_waiting.Remove(_next, out var ready))
            {
                output.WriteLine(ready.ToJsonString(Readable));
                _next++;
            }
        }
    }
}
