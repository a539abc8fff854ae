using Paged.Models.Hf;

namespace Paged.Models.Tests;

/// <summary>config.json and generation_config.json as transformers 5 writes them (the hf-tiny models) and as older Hub checkpoints do.</summary>
[TestClass]
public sealed class HfConfigTests
{
    private static string Tiny(string name) => Path.Combine(TestPaths.Shared, "models", "hf-tiny", name);

    [TestMethod]
    public void Tiny_llama3_config_reads_gqa_head_dim_and_llama3_rope()
    {
        var c = HfConfig.Read(Tiny("tiny-llama3"));
        Assert.AreEqual("LlamaForCausalLM", c.Architecture);
        Assert.AreEqual((64, 160, 3, 4, 2, 16, 1276, 512), (c.Dim, c.HiddenDim, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadSize, c.VocabSize, c.MaxSeqLen));
        Assert.AreEqual(1e-5f, c.NormEps);
        Assert.AreEqual(500000f, c.RopeTheta);
        Assert.AreEqual(RopeStyle.RotateHalf, c.RopeStyle);
        Assert.AreEqual(new RopeScaling { Type = RopeScalingType.Llama3, Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositions = 64 }, c.RopeScaling);
        Assert.IsFalse(c.SharedClassifier || c.AttentionBias || c.QkNorm);
        Assert.AreEqual((0, 4), (c.BosId, c.EosId));
        CollectionAssert.AreEqual(new[] { 4 }, c.StopTokenIds.ToArray());
        Assert.AreEqual(Weights.WeightDType.BF16, c.DType);
    }

    [TestMethod]
    public void Tiny_qwen2_qwen3_mistral_features()
    {
        var q2 = HfConfig.Read(Tiny("tiny-qwen2"));
        Assert.IsTrue(q2.AttentionBias && q2.SharedClassifier && !q2.QkNorm);
        Assert.AreEqual((1e6f, -1, 2, 0), (q2.RopeTheta, q2.BosId, q2.EosId, q2.SlidingWindow));
        Assert.AreEqual(RopeScalingType.None, q2.RopeScaling.Type);
        Assert.AreEqual(1e-6f, q2.NormEps);

        var q3 = HfConfig.Read(Tiny("tiny-qwen3"));
        Assert.IsTrue(q3.QkNorm && q3.SharedClassifier && !q3.AttentionBias);
        Assert.AreEqual(Weights.WeightDType.F32, q3.DType);
        Assert.AreEqual((16, 64), (q3.HeadSize, q3.QDim));

        var m = HfConfig.Read(Tiny("tiny-mistral"));
        Assert.AreEqual((24, 1, 2, 10000f), (m.SlidingWindow, m.BosId, m.EosId, m.RopeTheta));
        Assert.IsFalse(m.SharedClassifier || m.AttentionBias || m.QkNorm);
    }

    [TestMethod]
    public void Hub_layout_with_rope_scaling_and_torch_dtype_reads_like_transformers5_layout()
    {
        using var dir = new TempDir();
        var v5 = HfConfig.Read(Tiny("tiny-llama3"));
        File.WriteAllText(dir.File("config.json"), """
            {"architectures": ["LlamaForCausalLM"], "bos_token_id": 0, "eos_token_id": 4, "head_dim": 16, "hidden_act": "silu",
             "hidden_size": 64, "intermediate_size": 160, "max_position_embeddings": 512, "num_attention_heads": 4,
             "num_hidden_layers": 3, "num_key_value_heads": 2, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
             "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                              "original_max_position_embeddings": 64, "rope_type": "llama3"},
             "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 1276}
            """);
        var hub = HfConfig.Read(dir.Path);
        CollectionAssert.AreEqual(v5.StopTokenIds.ToArray(), hub.StopTokenIds.ToArray());
        Assert.AreEqual(v5, hub with { StopTokenIds = v5.StopTokenIds });
    }

    [TestMethod]
    public void Old_style_type_key_linear_and_dynamic_scaling()
    {
        using var dir = new TempDir();
        string Config(string scaling) => $$"""
            {"architectures": ["LlamaForCausalLM"], "eos_token_id": 2, "hidden_size": 64, "intermediate_size": 160,
             "max_position_embeddings": 2048, "num_attention_heads": 8, "num_hidden_layers": 2, "vocab_size": 300,
             "rope_scaling": {{scaling}}}
            """;
        File.WriteAllText(dir.File("config.json"), Config("""{"type": "linear", "factor": 4.0}"""));
        var linear = HfConfig.Read(dir.Path);
        Assert.AreEqual((RopeScalingType.Linear, 4f, 8, 8), (linear.RopeScaling.Type, linear.RopeScaling.Factor, linear.NumKvHeads, linear.HeadSize));
        Assert.AreEqual(10000f, linear.RopeTheta);
        File.WriteAllText(dir.File("config.json"), Config("""{"type": "dynamic", "factor": 2.0}"""));
        Assert.AreEqual(RopeScalingType.Dynamic, HfConfig.Read(dir.Path).RopeScaling.Type);
    }

    [TestMethod]
    public void Generation_config_eos_list_and_sampling_defaults()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), """
            {"architectures": ["Qwen2ForCausalLM"], "eos_token_id": 7, "hidden_size": 64, "intermediate_size": 160,
             "max_position_embeddings": 256, "num_attention_heads": 4, "num_hidden_layers": 1, "vocab_size": 300,
             "tie_word_embeddings": true}
            """);
        File.WriteAllText(dir.File("generation_config.json"), """
            {"bos_token_id": 5, "eos_token_id": [7, 9], "do_sample": true, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
             "repetition_penalty": 1.05}
            """);
        var c = HfConfig.Read(dir.Path);
        CollectionAssert.AreEqual(new[] { 7, 9 }, c.StopTokenIds.ToArray());
        Assert.AreEqual((5, 7), (c.BosId, c.EosId));
        Assert.AreEqual(new GenerationDefaults { Temperature = 0.7f, TopP = 0.8f, TopK = 20, RepetitionPenalty = 1.05f }, c.Generation);
    }

    [TestMethod]
    [DataRow("""{"architectures": ["GPT2LMHeadModel"]}""", "architecture GPT2LMHeadModel is not supported")]
    [DataRow("""{"hidden_size": 64}""", "architectures is missing")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "num_attention_heads": 8}""", "eos_token_id is missing")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "eos_token_id": 2}""", "num_attention_heads is missing")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "eos_token_id": 2, "num_attention_heads": "8"}""", "num_attention_heads is \"8\"; expected an integer")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "eos_token_id": 2, "num_attention_heads": 8, "hidden_act": "gelu"}""", "hidden_act is gelu")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "eos_token_id": 2, "num_attention_heads": 8, "rope_scaling": {"rope_type": "yarn", "factor": 4}}""", "rope_scaling.rope_type yarn is not supported")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "eos_token_id": 2, "num_attention_heads": 8, "rope_parameters": {"rope_type": "linear"}}""", "rope_parameters.factor is missing")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "eos_token_id": 2, "num_attention_heads": 8, "hidden_size": 60, "intermediate_size": 8, "num_hidden_layers": 1, "vocab_size": 10, "max_position_embeddings": 8}""", "n_heads 8 does not divide dim 60")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"], "eos_token_id": 99, "num_attention_heads": 8, "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "vocab_size": 10, "max_position_embeddings": 8}""", "outside the vocabulary")]
    [DataRow("""{"architectures": ["Qwen2ForCausalLM"], "eos_token_id": 2, "num_attention_heads": 8, "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "vocab_size": 10, "max_position_embeddings": 8, "use_sliding_window": true}""", "use_sliding_window is true")]
    [DataRow("""[1, 2]""", "expected a JSON object")]
    [DataRow("""{"architectures": ["LlamaForCausalLM"],""", "invalid JSON")]
    public void Bad_config_is_a_clear_error(string json, string phrase)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), json);
        var e = Assert.ThrowsExactly<ModelFormatException>(() => HfConfig.Read(dir.Path));
        StringAssert.StartsWith(e.Message, dir.File("config.json"));
        Assert.Contains(phrase, e.Message, e.Message);
    }
}
