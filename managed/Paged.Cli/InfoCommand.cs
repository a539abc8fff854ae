using System.Globalization;
using Paged.Models;
using Paged.Models.Tokenization;

namespace Paged.Cli;

/// <summary><c>paged info</c>: the model's configuration and tokenizer.</summary>
internal static class InfoCommand
{
    public static int Run(InfoOptions o)
    {
        using var weights = ModelLoader.Load(o.Model);
        var c = weights.Config;
        string tokenizer;
        try
        {
            tokenizer = $"{TokenizerLoader.Load(o.Model, o.Tokenizer, c).VocabSize} pieces";
        }
        catch (ModelFormatException e) when (Directory.Exists(o.Model))
        {
            tokenizer = $"none ({e.Message}); token-id prompts still work";
        }

        string format = Directory.Exists(o.Model) ? "Hugging Face checkpoint (safetensors)"
            : ModelLoader.IsGguf(o.Model) ? "GGUF" : "llama2.c checkpoint";
        var features = new List<string>();
        if (c.AttentionBias)
            features.Add("q/k/v bias");
        if (c.QkNorm)
            features.Add("q/k RMSNorm");
        if (c.SlidingWindow > 0)
            features.Add(string.Create(CultureInfo.InvariantCulture, $"sliding window {c.SlidingWindow}"));
        var g = c.Generation;
        Console.WriteLine($"model:         {Path.GetFullPath(o.Model)}");
        Console.WriteLine($"format:        {format}");
        Console.WriteLine($"architecture:  {c.Architecture}{(features.Count > 0 ? " (" + string.Join(", ", features) + ")" : "")}");
        Console.WriteLine($"parameters:    {weights.ParameterCount:N0} ({c.DType} declared; computed in f32)");
        Console.WriteLine($"dim:           {c.Dim}");
        Console.WriteLine($"hidden_dim:    {c.HiddenDim}");
        Console.WriteLine($"layers:        {c.NumLayers}");
        Console.WriteLine($"heads:         {c.NumHeads} (kv heads {c.NumKvHeads}, head size {c.HeadSize})");
        Console.WriteLine($"vocab:         {c.VocabSize}");
        Console.WriteLine($"context:       {c.MaxSeqLen}");
        Console.WriteLine($"rms_norm_eps:  {c.NormEps}");
        Console.WriteLine($"rope:          {c.RopeStyle}, theta {c.RopeTheta}{(c.RopeScaling.Type == RopeScalingType.None ? "" : $", {c.RopeScaling.Type} scaling x{c.RopeScaling.Factor}")}");
        Console.WriteLine($"classifier:    {(c.SharedClassifier ? "shared with token embedding" : "separate")}");
        Console.WriteLine($"bos / eos:     {c.BosId} / {c.EosId}; stop ids {string.Join(", ", c.StopTokenIds)}");
        if (g != GenerationDefaults.Empty)
            Console.WriteLine($"defaults:      temperature {g.Temperature}, top_p {g.TopP}, top_k {g.TopK}, min_p {g.MinP}, repetition_penalty {g.RepetitionPenalty}");
        Console.WriteLine($"tokenizer:     {tokenizer}");
        return 0;
    }
}
