using Paged.Models.Hf;
using Paged.Models.Weights;

namespace Paged.Models.Lora;

/// <summary>
/// Reads a PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) for a base model and
/// refuses what the engine cannot apply exactly, naming the file, key or tensor: another PEFT type, DoRA,
/// modules_to_save, per-module ranks or alphas, LoRA biases, fan_in_fan_out, a target outside q/k/v/o/gate/up/down,
/// a rank above the engine's maximum, a missing or mis-shaped tensor, or a tensor the config does not explain.
/// </summary>
public static class LoraAdapterLoader
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    public static LoraAdapter Load(string name, string directory, ModelConfig model, int maxRank)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(model);
        if (!Directory.Exists(directory))
            throw ModelFormatException.For(directory, "adapter directory not found");
        var json = HfJson.Load(System.IO.Path.Combine(directory, ConfigFile));
        string peftType = json.GetText("peft_type") ?? "LORA";
        if (!string.Equals(peftType, "LORA", StringComparison.OrdinalIgnoreCase))
            throw json.Fail($"peft_type {peftType} is not supported (only LORA)");
        if (json.GetBool("use_dora") == true)
            throw json.Fail("use_dora is true: DoRA adapters are not supported");
        if (json.GetTextList("modules_to_save") is { Count: > 0 } saved)
            throw json.Fail($"modules_to_save ({string.Join(", ", saved)}) is not supported: only LoRA deltas are applied");
        if (json.GetBool("fan_in_fan_out") == true)
            throw json.Fail("fan_in_fan_out is true: only Linear layers with [out, in] weights are supported");
        if (json.GetBool("lora_bias") == true || json.GetText("bias") is { } bias && bias != "none")
            throw json.Fail("LoRA biases are not supported (bias must be \"none\", lora_bias false)");
        foreach (string key in (string[])["rank_pattern", "alpha_pattern"])
        {
            if (json.GetSection(key) is { } pattern && pattern.Keys.Any())
                throw json.Fail($"{key} is not supported: one rank and alpha for every module");
        }

        int rank = json.GetRequiredInt("r");
        if (rank < 1)
            throw json.Fail($"r = {rank} must be >= 1");
        if (rank > maxRank)
            throw json.Fail($"r = {rank} exceeds the engine's max LoRA rank {maxRank} (--max-lora-rank)");
        float alpha = json.GetFloat("lora_alpha") ?? rank;
        bool rsLora = json.GetBool("use_rslora") == true;
        var modules = json.GetTextList("target_modules") ?? throw json.Fail("target_modules is missing (a list of module names)");
        var all = LoraTarget.For(model);
        var targets = new List<LoraTarget>();
        foreach (string m in modules)
        {
            var t = all.FirstOrDefault(x => x.Module == m)
                ?? throw json.Fail($"target module '{m}' is not supported (supported: {string.Join(", ", LoraTarget.ModuleNames)})");
            if (!targets.Contains(t))
                targets.Add(t);
        }

        if (targets.Count == 0)
            throw json.Fail("target_modules is empty");
        var (a, b) = ReadTensors(System.IO.Path.Combine(directory, WeightsFile), model, all, targets, rank);
        return new LoraAdapter(name, directory, rank, alpha, rsLora, targets, a, b);
    }

    private static (float[]?[,] A, float[]?[,] B) ReadTensors(string path, ModelConfig model, IReadOnlyList<LoraTarget> all,
        List<LoraTarget> targets, int rank)
    {
        if (!File.Exists(path))
            throw ModelFormatException.For(path, "file not found");
        using var file = SafetensorsFile.Open(path);
        var byName = file.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var a = new float[]?[model.NumLayers, all.Count];
        var b = new float[]?[model.NumLayers, all.Count];
        for (int l = 0; l < model.NumLayers; l++)
        {
            foreach (var t in targets)
            {
                int ti = IndexOf(all, t);
                string prefix = $"base_model.model.model.layers.{l}.{t.Block}.{t.Module}";
                var ta = Require(path, byName, $"{prefix}.lora_A.weight", rank, t.K);
                var tb = Require(path, byName, $"{prefix}.lora_B.weight", t.N, rank);
                used.Add(ta.Name);
                used.Add(tb.Name);
                a[l, ti] = ta.ToArray();
                b[l, ti] = Transpose(tb.ToArray(), t.N, rank);
            }
        }

        foreach (var e in file.Entries)
        {
            if (!used.Contains(e.Name))
                throw ModelFormatException.For(path, $"tensor {e.Name} is not a lora_A/lora_B weight of a listed target module of a layer 0..{model.NumLayers - 1}");
        }

        return (a, b);
    }

    private static WeightTensor Require(string path, Dictionary<string, WeightTensor> byName, string name, long rows, long cols)
    {
        if (!byName.TryGetValue(name, out var t))
            throw ModelFormatException.For(path, $"tensor {name} is missing");
        if (!t.HasShape([rows, cols]))
            throw ModelFormatException.For(path, $"tensor {name} has shape {t.ShapeText}; expected [{rows}, {cols}]");
        return t;
    }

    private static int IndexOf(IReadOnlyList<LoraTarget> all, LoraTarget t)
    {
        for (int i = 0; i < all.Count; i++)
        {
            if (all[i] == t)
                return i;
        }

        return -1;
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
                t[(c * rows) + r] = m[(r * cols) + c];
        }

        return t;
    }
}
