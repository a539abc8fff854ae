using Paged.Models;

namespace Paged.Cli;

/// <summary><c>paged make-model</c>: a random-weight llama2.c checkpoint of a real shape, plus a tokenizer.</summary>
internal static class MakeModelCommand
{
    public static int Run(MakeModelOptions o)
    {
        var config = o.Shape.ToLowerInvariant() switch
        {
            "stories110m" => Shape(dim: 768, hidden: 2048, layers: 12, heads: 12),
            "stories15m" => Shape(dim: 288, hidden: 768, layers: 6, heads: 6),
            _ => throw new ArgumentException($"unknown shape '{o.Shape}' (stories110M, stories15M)"),
        };
        Directory.CreateDirectory(o.Out);
        string model = Path.Combine(o.Out, "model.bin");
        string tokenizer = Path.Combine(o.Out, "tokenizer.bin");
        RandomModelWriter.WriteLlama2c(model, config, o.Seed);
        RandomModelWriter.WriteSyntheticTokenizer(tokenizer, config.VocabSize);
        Console.WriteLine($"wrote {model} ({new FileInfo(model).Length:N0} bytes) and {tokenizer}");
        return 0;
    }

    /// <summary>The llama2.c "stories" shapes with the Llama 2 vocabulary size and a 1024-token context.</summary>
    private static ModelConfig Shape(int dim, int hidden, int layers, int heads) => new()
    {
        Dim = dim, HiddenDim = hidden, NumLayers = layers, NumHeads = heads, NumKvHeads = heads,
        VocabSize = 32000, MaxSeqLen = 1024,
    };
}
