using System.Globalization;
using System.Text.Json;

namespace Paged.Cli.ServeBench;

/// <summary>One request of a serving benchmark: a prompt (token ids or text), its output length and tenant.</summary>
public sealed record ServeRequestSpec(int[]? PromptTokenIds, string? PromptText, int PromptTokens, int OutputTokens, string? Tenant);

/// <summary>Builds the requests of a serving benchmark from the random or ShareGPT dataset (deterministic for a seed).</summary>
public static class ServeWorkload
{
    /// <summary>
    /// Random prompts of token ids (exact lengths without a tokenizer, as the completions endpoint takes ids):
    /// input and output lengths uniform in [len*(1-r), len*(1+r)], an optional shared prefix first.
    /// </summary>
    public static List<ServeRequestSpec> Random(int count, int inputLen, int outputLen, double rangeRatio, int prefixLen,
        (int Lo, int Hi) tokenRange, TenantMix? tenants, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (count < 1 || inputLen < 1 || outputLen < 1 || prefixLen < 0)
            throw new ArgumentException("--num-prompts, --random-input-len and --random-output-len must be >= 1; --random-prefix-len >= 0");
        if (!(rangeRatio >= 0 && rangeRatio < 1))
            throw new ArgumentException($"--random-range-ratio must be in [0, 1) (got {rangeRatio.ToString(CultureInfo.InvariantCulture)})");
        int[] prefix = Tokens(prefixLen, tokenRange, random);
        var specs = new List<ServeRequestSpec>(count);
        for (int i = 0; i < count; i++)
        {
            int input = Spread(inputLen, rangeRatio, random);
            int output = Spread(outputLen, rangeRatio, random);
            int[] ids = [.. prefix, .. Tokens(input, tokenRange, random)];
            specs.Add(new ServeRequestSpec(ids, null, ids.Length, output, tenants?.Draw(random)));
        }

        return specs;
    }

    /// <summary>
    /// ShareGPT-format conversations: the first human turn is the prompt; the output length is
    /// <paramref name="outputLen"/>, or the first reply's length in characters / 4 (at least 4) when 0.
    /// Prompt lengths are reported in characters / 4 (no tokenizer on the client).
    /// </summary>
    public static List<ServeRequestSpec> ShareGpt(string path, int count, int outputLen, TenantMix? tenants, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        using var stream = File.OpenRead(path);
        using var doc = JsonDocument.Parse(stream);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new FormatException($"{path}: a ShareGPT file is a JSON array of conversations");
        var pool = new List<(string Prompt, string Reply)>();
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("conversations", out var turns) || turns.ValueKind != JsonValueKind.Array)
                continue;
            var texts = turns.EnumerateArray()
                .Where(t => t.ValueKind == JsonValueKind.Object && t.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.String)
                .Select(t => t.GetProperty("value").GetString()!).Take(2).ToArray();
            if (texts.Length == 2 && texts[0].Length > 0)
                pool.Add((texts[0], texts[1]));
        }

        if (pool.Count == 0)
            throw new FormatException($"{path}: no conversation with a prompt and a reply");
        var specs = new List<ServeRequestSpec>(count);
        for (int i = 0; i < count; i++)
        {
            var (prompt, reply) = pool[random.Next(pool.Count)];
            int output = outputLen > 0 ? outputLen : Math.Max(4, reply.Length / 4);
            specs.Add(new ServeRequestSpec(null, prompt, Math.Max(1, prompt.Length / 4), output, tenants?.Draw(random)));
        }

        return specs;
    }

    /// <summary>Parses LO:HI (HI exclusive).</summary>
    public static (int Lo, int Hi) ParseTokenRange(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int lo)
            && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int hi) && lo >= 0 && hi > lo)
            return (lo, hi);
        throw new ArgumentException($"--random-token-range expects LO:HI with 0 <= LO < HI (got '{text}')");
    }

    private static int Spread(int len, double ratio, Random random)
    {
        int lo = Math.Max(1, (int)Math.Floor(len * (1 - ratio)));
        int hi = Math.Max(lo, (int)Math.Ceiling(len * (1 + ratio)));
        return random.Next(lo, hi + 1);
    }

    private static int[] Tokens(int count, (int Lo, int Hi) range, Random random)
    {
        var ids = new int[count];
        for (int i = 0; i < count; i++)
            ids[i] = random.Next(range.Lo, range.Hi);
        return ids;
    }
}

/// <summary>Tenants (the OpenAI 'user' field) with relative weights, e.g. heavy:9,light:1.</summary>
public sealed class TenantMix
{
    private readonly (string Name, double Cumulative)[] _entries;

    private TenantMix((string Name, double Cumulative)[] entries) => _entries = entries;

    public IEnumerable<string> Names => _entries.Select(e => e.Name);

    public static TenantMix Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var entries = new List<(string, double)>();
        double total = 0;
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = part.LastIndexOf(':');
            string name = colon < 0 ? part : part[..colon];
            double weight = 1;
            if (name.Length == 0 || (colon >= 0 && (!double.TryParse(part[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out weight) || !(weight > 0) || double.IsInfinity(weight))))
                throw new ArgumentException($"--tenants expects NAME[:WEIGHT],... with positive weights (got '{part}')");
            total += weight;
            entries.Add((name, total));
        }

        if (entries.Count == 0)
            throw new ArgumentException("--tenants names no tenant");
        return new TenantMix([.. entries.Select(e => (e.Item1, e.Item2 / total))]);
    }

    public string Draw(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        double u = random.NextDouble();
        foreach (var (name, cumulative) in _entries)
        {
            if (u < cumulative)
                return name;
        }

        return _entries[^1].Name;
    }
}
