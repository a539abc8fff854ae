using Paged.Models.Hf;
using Paged.Models.Lora;

namespace Paged.Models.Tests;

/// <summary>The PEFT adapter loader on the hf-tiny adapters: scales, targets, layouts, and what it refuses.</summary>
[TestClass]
public sealed class LoraAdapterLoaderTests
{
    private static string Dir(string name) => Path.Combine(TestPaths.HfTiny, name);

    private static ModelConfig Config => HfConfig.Read(Dir("tiny-llama3"));

    [TestMethod]
    public void Reads_rank_alpha_targets_and_scale()
    {
        var a = LoraAdapterLoader.Load("a", Dir("tiny-llama3-lora-a"), Config, 16);
        Assert.AreEqual(8, a.Rank);
        Assert.AreEqual(2f, a.Scale); // alpha 16 / r 8
        Assert.HasCount(7, a.Targets);
        var b = LoraAdapterLoader.Load("b", Dir("tiny-llama3-lora-b"), Config, 16);
        Assert.AreEqual(0.5f, b.Scale); // alpha 8 / r 16
        CollectionAssert.AreEquivalent(new[] { "q_proj", "v_proj" }, b.Targets.Select(t => t.Module).ToArray());
        Assert.IsNull(b.A(0, 1), "k_proj is not a target of lora-b");
        // lora_B of v_proj is [kv_dim 32, r 16] in the file; the loader keeps it transposed, [16, 32].
        Assert.HasCount(16 * 32, b.BTransposed(2, 2)!);
        Assert.AreNotEqual(a.CacheKey, LoraAdapterLoader.Load("a", Dir("tiny-llama3-lora-a"), Config, 16).CacheKey, "every load is its own KV namespace");
    }

    [TestMethod]
    public void RsLora_scales_by_the_square_root_of_the_rank()
    {
        string dir = Copy("tiny-llama3-lora-a", c => c.Replace("\"use_rslora\": false", "\"use_rslora\": true", StringComparison.Ordinal));
        try
        {
            var a = LoraAdapterLoader.Load("a", dir, Config, 16);
            Assert.AreEqual(16f / MathF.Sqrt(8), a.Scale, 1e-6f);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void Refuses_what_it_cannot_apply_naming_the_problem()
    {
        var e = Assert.ThrowsExactly<ModelFormatException>(() => LoraAdapterLoader.Load("a", Dir("tiny-llama3-lora-b"), Config, 8));
        StringAssert.Contains(e.Message, "r = 16 exceeds the engine's max LoRA rank 8");
        StringAssert.Contains(e.Message, "adapter_config.json");
        // A base model the adapter was not made for (another intermediate size): the first mis-shaped tensor is named.
        var other = Config with { HiddenDim = 128 };
        e = Assert.ThrowsExactly<ModelFormatException>(() => LoraAdapterLoader.Load("a", Dir("tiny-llama3-lora-a"), other, 16));
        StringAssert.Contains(e.Message, "adapter_model.safetensors: tensor base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight has shape [160, 8]; expected [128, 8]");
    }

    private static string Copy(string adapter, Func<string, string> editConfig)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"paged-lora-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(Dir(adapter), LoraAdapterLoader.WeightsFile), Path.Combine(dir, LoraAdapterLoader.WeightsFile));
        File.WriteAllText(Path.Combine(dir, LoraAdapterLoader.ConfigFile), editConfig(File.ReadAllText(Path.Combine(Dir(adapter), LoraAdapterLoader.ConfigFile))));
        return dir;
    }
}
