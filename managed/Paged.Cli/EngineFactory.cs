using System.Globalization;
using Paged.Engine;
using Paged.Models;
using Paged.Models.Tokenization;
using Paged.Runtime;

namespace Paged.Cli;

/// <summary>Maps the shared command-line options onto <see cref="EngineOptions"/>.</summary>
internal static class EngineFactory
{
    public static EngineOptions ToEngineOptions(EngineVerbOptions o) => new()
    {
        Device = ResolveDevice(o.Device),
        NumThreads = o.Threads,
        BlockSize = o.BlockSize,
        NumKvBlocks = o.KvBlocks,
        KvMemoryBytes = o.KvMemory is null ? 0 : ParseSize(o.KvMemory),
        MaxNumSeqs = o.EffectiveMaxNumSeqs,
        MaxNumBatchedTokens = o.MaxNumBatchedTokens,
        PrefixCaching = o.PrefixCaching == OnOff.On,
        ChunkedPrefill = o.ChunkedPrefill == OnOff.On,
        BatchInvariant = o.BatchInvariant,
        Preemption = o.Preemption,
        SwapSpaceBytes = o.SwapSpace is null ? 0 : ParseSize(o.SwapSpace),
        Policy = o.Policy,
        KvCacheDType = o.KvCacheDType,
        FairShare = new FairShareOptions { TenantWeights = ParseTenantWeights(o.TenantWeights) },
        MaxLoras = o.MaxLoras > 0 ? o.MaxLoras : o.WantsLora ? 4 : 0,
        MaxLoraRank = o.MaxLoraRank,
        CudaGraphs = o.CudaGraphs,
        LoraDType = o.LoraDType,
    };

    /// <summary>Registers every --lora NAME=PATH adapter (a bad one is an error naming it).</summary>
    public static void LoadAdapters(Paged.Engine.Lora.LoraRegistry adapters, IEnumerable<string> pairs)
    {
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == pair.Length - 1)
                throw new ArgumentException($"--lora expects NAME=PATH (got '{pair}')");
            adapters.Load(pair[..eq], pair[(eq + 1)..]);
        }
    }

    /// <summary>
    /// Loads the model and its tokenizer and builds the engine. A checkpoint directory whose tokenizer cannot be
    /// loaded still runs token-id prompts (<paramref name="needsTokenizer"/> false) with an ids-only stand-in.
    /// </summary>
    public static LlmEngine CreateEngine(EngineVerbOptions o, EngineOptions options, bool needsTokenizer)
    {
        using var weights = ModelLoader.Load(o.Model); // mapped files close once the model is on the device
        ITokenizer tokenizer;
        try
        {
            tokenizer = TokenizerLoader.Load(o.Model, o.Tokenizer, weights.Config);
        }
        catch (ModelFormatException e) when (Directory.Exists(o.Model) && o.Tokenizer is null)
        {
            if (needsTokenizer)
                throw new ModelFormatException($"{o.Model}: no tokenizer could be loaded ({e.Message}); give prompts as token ids (--prompt-ids)", e);
            tokenizer = new IdsOnlyTokenizer(weights.Config, e.Message);
        }

        var engine = new LlmEngine(weights, tokenizer, options);
        try
        {
            LoadAdapters(engine.Adapters, o.Loras);
        }
        catch
        {
            engine.Dispose();
            throw;
        }

        return engine;
    }

    /// <summary>Parses NAME=WEIGHT pairs.</summary>
    public static Dictionary<string, double>? ParseTenantWeights(IEnumerable<string> pairs)
    {
        Dictionary<string, double>? weights = null;
        foreach (string pair in pairs)
        {
            int eq = pair.LastIndexOf('=');
            if (eq <= 0 || !double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double w) || !(w > 0) || double.IsInfinity(w))
                throw new ArgumentException($"--tenant-weight expects NAME=WEIGHT with a positive weight (got '{pair}')");
            (weights ??= [])[pair[..eq]] = w;
        }

        return weights;
    }

    /// <summary>
    /// Maps --device onto a backend library: cpu, cuda, simt (the CUDA kernels on the CPU emulator: slow,
    /// for verifying kernels) or auto (cuda when a CUDA device can be used, else cpu; says which on stderr).
    /// </summary>
    public static string ResolveDevice(string device) => device.ToLowerInvariant() switch
    {
        "cpu" => "cpu",
        "cuda" => "cuda",
        "simt" => "simt",
        "auto" => ResolveAuto(),
        var other => throw new ArgumentException($"unknown device '{other}': use cpu, cuda, simt or auto"),
    };

    private static string ResolveAuto()
    {
        string reason;
        if (!Backend.IsAvailable("cuda"))
        {
            reason = "libpaged_cuda.so is not built";
        }
        else
        {
            try
            {
                using var probe = Backend.Load("cuda").CreateContext();
                Console.Error.WriteLine($"device auto: using cuda ({probe.DeviceName})");
                return "cuda";
            }
            catch (BackendException e)
            {
                reason = e.Message;
            }
        }

        Console.Error.WriteLine($"device auto: using cpu (no usable CUDA device: {reason})");
        return "cpu";
    }

    /// <summary>Parses sizes like 4096, 512K, 64M, 2G (powers of 1024).</summary>
    public static long ParseSize(string text)
    {
        string t = text.Trim().ToUpperInvariant().TrimEnd('B', 'I');
        long unit = 1;
        if (t.Length > 0 && "KMGT".Contains(t[^1], StringComparison.Ordinal))
        {
            unit = t[^1] switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1L << 40 };
            t = t[..^1];
        }

        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v <= 0 || double.IsInfinity(v))
            throw new ArgumentException($"'{text}' is not a size (examples: 4096, 512M, 2G)");
        return (long)(v * unit);
    }
}
