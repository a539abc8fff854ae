using System.Text.Json;
using Paged.Models.Weights;
using Paged.Runtime.Interop;

namespace Paged.Models.Hf;

/// <summary>
/// Writes a Hugging Face checkpoint directory as transformers 5 does: config.json (rope_parameters, dtype),
/// generation_config.json and model.safetensors in the chosen dtype.
/// </summary>
public static class HfCheckpointWriter
{
    public static void Write(string directory, ModelConfig config, IEnumerable<CheckpointTensor> tensors, WeightDType dtype)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        if (config.RopeStyle != RopeStyle.RotateHalf)
            throw new ArgumentException("Hugging Face checkpoints use rotate-half RoPE; export the tensors with HfExport.FromWeights");
        config = config with { DType = dtype };
        config.Validate(directory);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, HfConfig.FileName), ConfigJson(config));
        File.WriteAllBytes(Path.Combine(directory, HfConfig.GenerationFileName), GenerationJson(config));
        var writer = new SafetensorsWriter();
        foreach (var t in tensors)
            writer.Add(t.Name, dtype, t.Shape, t.Fill);
        writer.Save(Path.Combine(directory, HfCheckpoint.SingleFile));
    }

    private static byte[] ConfigJson(ModelConfig c)
    {
        var arch = ModelRegistry.ForHf(c.Architecture, "config");
        return Json(w =>
        {
            w.WriteStartArray("architectures");
            w.WriteStringValue(c.Architecture);
            w.WriteEndArray();
            w.WriteString("model_type", arch.HfName.Replace("ForCausalLM", "", StringComparison.Ordinal).ToLowerInvariant());
            w.WriteString("hidden_act", "silu");
            w.WriteNumber("hidden_size", c.Dim);
            w.WriteNumber("intermediate_size", c.HiddenDim);
            w.WriteNumber("num_hidden_layers", c.NumLayers);
            w.WriteNumber("num_attention_heads", c.NumHeads);
            w.WriteNumber("num_key_value_heads", c.NumKvHeads);
            w.WriteNumber("head_dim", c.HeadSize);
            w.WriteNumber("vocab_size", c.VocabSize);
            w.WriteNumber("max_position_embeddings", c.MaxSeqLen);
            w.WriteNumber("rms_norm_eps", c.NormEps);
            w.WriteBoolean("attention_bias", c.AttentionBias);
            w.WriteBoolean("tie_word_embeddings", c.SharedClassifier);
            if (c.SlidingWindow > 0)
                w.WriteNumber("sliding_window", c.SlidingWindow);
            else
                w.WriteNull("sliding_window");
            WriteBos(w, c);
            WriteEos(w, c);
            w.WriteString("dtype", c.DType switch { WeightDType.BF16 => "bfloat16", WeightDType.F16 => "float16", _ => "float32" });
            w.WriteStartObject("rope_parameters");
            w.WriteNumber("rope_theta", c.RopeTheta);
            var s = c.RopeScaling;
            w.WriteString("rope_type", s.Type switch
            {
                RopeScalingType.Linear => "linear",
                RopeScalingType.Dynamic => "dynamic",
                RopeScalingType.Llama3 => "llama3",
                _ => "default",
            });
            if (s.Type != RopeScalingType.None)
            {
                w.WriteNumber("factor", s.Factor);
                w.WriteNumber("original_max_position_embeddings", s.OriginalMaxPositions > 0 ? s.OriginalMaxPositions : c.MaxSeqLen);
            }

            if (s.Type == RopeScalingType.Llama3)
            {
                w.WriteNumber("low_freq_factor", s.LowFreqFactor);
                w.WriteNumber("high_freq_factor", s.HighFreqFactor);
            }

            w.WriteEndObject();
        });
    }

    private static byte[] GenerationJson(ModelConfig c) => Json(w =>
    {
        WriteBos(w, c);
        WriteEos(w, c);
        var g = c.Generation;
        if (g.Temperature is { } t)
            w.WriteNumber("temperature", t);
        if (g.TopP is { } p)
            w.WriteNumber("top_p", p);
        if (g.TopK is { } k)
            w.WriteNumber("top_k", k);
        if (g.MinP is { } m)
            w.WriteNumber("min_p", m);
        if (g.RepetitionPenalty is { } r)
            w.WriteNumber("repetition_penalty", r);
    });

    private static void WriteBos(Utf8JsonWriter w, ModelConfig c)
    {
        if (c.BosId >= 0)
            w.WriteNumber("bos_token_id", c.BosId);
        else
            w.WriteNull("bos_token_id");
    }

    private static void WriteEos(Utf8JsonWriter w, ModelConfig c)
    {
        w.WriteStartArray("eos_token_id");
        foreach (int id in c.StopTokenIds.Prepend(c.EosId).Distinct())
            w.WriteNumberValue(id);
        w.WriteEndArray();
    }

    internal static byte[] Json(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
