using System.Globalization;
using System.Text.Json;
using Paged.Models.Hf;
using Paged.Models.Weights;

namespace Paged.Models.Lora;

/// <summary>
/// Writes a PEFT LoRA adapter directory with deterministic random weights for a model shape (benchmarks and tests
/// need the shape, not the values): adapter_config.json and adapter_model.safetensors in PEFT's tensor names.
/// A ~ uniform(-1/sqrt(K), 1/sqrt(K)), B ~ uniform(-0.05, 0.05), so the delta is small next to the base weights.
/// </summary>
public static class LoraAdapterWriter
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void WriteRandom(string directory, ModelConfig config, int rank, IReadOnlyList<string> targets, float alpha, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        var all = LoraTarget.For(config);
        var chosen = targets.Select(t => all.FirstOrDefault(x => x.Module == t)
            ?? throw new ArgumentException($"unknown LoRA target '{t}' (supported: {string.Join(", ", LoraTarget.ModuleNames)})")).ToList();
        if (chosen.Count == 0)
            throw new ArgumentException("no LoRA targets given");
        Directory.CreateDirectory(directory);
        var writer = new SafetensorsWriter();
        long salt = 0;
        for (int l = 0; l < config.NumLayers; l++)
        {
            foreach (var t in chosen)
            {
                string prefix = string.Create(CultureInfo.InvariantCulture, $"base_model.model.model.layers.{l}.{t.Block}.{t.Module}");
                float aScale = 1f / MathF.Sqrt(t.K);
                long aSalt = salt++ << 40, bSalt = salt++ << 40;
                writer.Add($"{prefix}.lora_A.weight", WeightDType.F32, [rank, t.K],
                    (start, chunk) => Fill(chunk, seed, aSalt + start, aScale));
                writer.Add($"{prefix}.lora_B.weight", WeightDType.F32, [t.N, rank],
                    (start, chunk) => Fill(chunk, seed, bSalt + start, 0.05f));
            }
        }

        writer.Save(Path.Combine(directory, LoraAdapterLoader.WeightsFile));
        var adapterConfig = new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA",
            ["r"] = rank,
            ["lora_alpha"] = alpha,
            ["target_modules"] = chosen.Select(t => t.Module).ToArray(),
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["bias"] = "none",
            ["modules_to_save"] = null,
            ["fan_in_fan_out"] = false,
            ["lora_dropout"] = 0.0,
        };
        File.WriteAllText(Path.Combine(directory, LoraAdapterLoader.ConfigFile),
            JsonSerializer.Serialize(adapterConfig, Indented));
    }

    private static void Fill(Span<float> chunk, ulong seed, long index, float scale)
    {
        for (int i = 0; i < chunk.Length; i++)
            chunk[i] = SplitMix64.Uniform(seed, index + i) * scale;
    }
}
