using System.Globalization;
using Paged.Models.Gguf;

namespace Paged.Models.Tokenization;

/// <summary>Finds and loads the tokenizer that belongs to a model.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// With <paramref name="tokenizerPath"/> null: a GGUF model uses its embedded vocabulary; a HuggingFace model
    /// directory (or a file in one) uses its tokenizer.json; a llama2.c model uses tok{vocab}.bin or tokenizer.bin next to
    /// it. An explicit path may be a llama2.c tokenizer, a GGUF file, a tokenizer.json or a directory holding one.
    /// </summary>
    public static ITokenizer Load(string modelPath, string? tokenizerPath, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(config);
        string path = tokenizerPath ?? FindDefault(modelPath, config);
        ITokenizer tokenizer = LoadFile(path);
        bool hf = tokenizer is HfTokenizer;

        // A HF checkpoint's embedding may have more rows than the tokenizer has tokens (padded to a multiple of 64 or 128).
        if (hf ? tokenizer.VocabSize > config.VocabSize : tokenizer.VocabSize != config.VocabSize)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"tokenizer {path} has {tokenizer.VocabSize} pieces but model {modelPath} has vocab {config.VocabSize}"));
        }

        return tokenizer;
    }

    private static ITokenizer LoadFile(string path)
    {
        if (Directory.Exists(path))
        {
            return HfTokenizerLoader.IsHfDirectory(path) ? HfTokenizerLoader.Load(path)
                : throw ModelFormatException.For(path, $"directory has no {HfTokenizerLoader.TokenizerFile}");
        }

        if (Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase))
        {
            return HfTokenizerLoader.LoadFile(path);
        }

        return ModelLoader.IsGguf(path) ? GgufTokenizer.FromGguf(GgufFile.Open(path)) : Llama2cTokenizerFile.Load(path);
    }

    private static string FindDefault(string modelPath, ModelConfig config)
    {
        if (Directory.Exists(modelPath))
        {
            return modelPath;
        }

        if (ModelLoader.IsGguf(modelPath))
        {
            return modelPath;
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string[] candidates =
        [
            Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"tok{config.VocabSize}.bin")),
            Path.Combine(directory, "tokenizer.bin"),
            Path.Combine(directory, HfTokenizerLoader.TokenizerFile),
        ];
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw ModelFormatException.For(modelPath,
            $"no tokenizer found (looked for {string.Join(", ", candidates)}); pass --tokenizer with the model's tokenizer file");
    }
}
