using System.Globalization;
using Paged.Models.Gguf;

namespace Paged.Models.Tokenization;

/// <summary>Finds and loads the tokenizer that belongs to a model.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// With <paramref name="tokenizerPath"/> null: a GGUF model uses its embedded vocabulary; a llama2.c model uses
    /// tok{vocab}.bin or tokenizer.bin next to it. An explicit path may be a llama2.c tokenizer or a GGUF file.
    /// </summary>
    public static ITokenizer Load(string modelPath, string? tokenizerPath, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(config);
        string path = tokenizerPath ?? FindDefault(modelPath, config);
        SentencePieceTokenizer tokenizer = ModelLoader.IsGguf(path)
            ? GgufTokenizer.FromGguf(GgufFile.Open(path))
            : Llama2cTokenizerFile.Load(path);
        if (tokenizer.VocabSize != config.VocabSize)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"tokenizer {path} has {tokenizer.VocabSize} pieces but model {modelPath} has vocab {config.VocabSize}"));
        }

        return tokenizer;
    }

    private static string FindDefault(string modelPath, ModelConfig config)
    {
        if (ModelLoader.IsGguf(modelPath))
        {
            return modelPath;
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string[] candidates =
        [
            Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"tok{config.VocabSize}.bin")),
            Path.Combine(directory, "tokenizer.bin"),
        ];
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw ModelFormatException.For(modelPath,
            $"no tokenizer found (looked for {string.Join(" and ", candidates)}); pass --tokenizer with the model's tokenizer file");
    }
}
