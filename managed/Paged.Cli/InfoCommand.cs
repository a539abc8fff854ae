using Paged.Models;
using Paged.Models.Tokenization;

namespace Paged.Cli;

/// <summary><c>paged info</c>: the model's configuration and tokenizer.</summary>
internal static class InfoCommand
{
    public static int Run(InfoOptions o)
    {
        var weights = ModelLoader.Load(o.Model);
        var c = weights.Config;
        var tokenizer = TokenizerLoader.Load(o.Model, o.Tokenizer, c);
        long parameters = weights.ParameterCount;
        string format = Path.GetExtension(o.Model).Equals(".gguf", StringComparison.OrdinalIgnoreCase) ? "GGUF" : "llama2.c checkpoint";
        Console.WriteLine($"model:         {Path.GetFullPath(o.Model)}");
        Console.WriteLine($"format:        {format}");
        Console.WriteLine($"parameters:    {parameters:N0}");
        Console.WriteLine($"dim:           {c.Dim}");
        Console.WriteLine($"hidden_dim:    {c.HiddenDim}");
        Console.WriteLine($"layers:        {c.NumLayers}");
        Console.WriteLine($"heads:         {c.NumHeads} (kv heads {c.NumKvHeads}, head size {c.HeadSize})");
        Console.WriteLine($"vocab:         {c.VocabSize}");
        Console.WriteLine($"context:       {c.MaxSeqLen}");
        Console.WriteLine($"rms_norm_eps:  {c.NormEps}");
        Console.WriteLine($"rope:          {c.RopeStyle}, theta {c.RopeTheta}");
        Console.WriteLine($"classifier:    {(c.SharedClassifier ? "shared with token embedding" : "separate")}");
        Console.WriteLine($"bos / eos:     {c.BosId} / {c.EosId}; stop ids {string.Join(", ", c.StopTokenIds)}");
        Console.WriteLine($"tokenizer:     {tokenizer.VocabSize} pieces");
        return 0;
    }
}
