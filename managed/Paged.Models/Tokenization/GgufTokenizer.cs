using System.Globalization;
using Paged.Models.Gguf;

namespace Paged.Models.Tokenization;

/// <summary>Builds a tokenizer from a GGUF file's tokenizer.ggml.* metadata: SentencePiece "llama" or byte-level BPE "gpt2".</summary>
public static class GgufTokenizer
{
    public static ITokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string model = file.GetString("tokenizer.ggml.model") ?? "(missing)";
        return model switch
        {
            "llama" => SentencePiece(file),
            "gpt2" => GgufByteLevelTokenizer.Build(file),
            _ => throw ModelFormatException.For(file.Path,
                $"tokenizer.ggml.model is {model}; only SentencePiece \"llama\" and byte-level BPE \"gpt2\" vocabularies are supported (pass --tokenizer)"),
        };
    }

    private static SentencePieceTokenizer SentencePiece(GgufFile file)
    {

        string[] pieces = file.GetArray<string>("tokenizer.ggml.tokens")
            ?? throw ModelFormatException.For(file.Path, "metadata tokenizer.ggml.tokens is missing");
        float[] scores = file.GetArray<float>("tokenizer.ggml.scores") ?? new float[pieces.Length];
        var types = new TokenPieceType[pieces.Length];
        if (file.Metadata.TryGetValue("tokenizer.ggml.token_type", out var rawTypes))
        {
            if (rawTypes is not Array array || array.Length != pieces.Length)
            {
                throw ModelFormatException.For(file.Path, $"tokenizer.ggml.token_type is not an array of {pieces.Length} integers");
            }

            for (int i = 0; i < types.Length; i++)
            {
                long t = GgufMetadata.ToInt64(array.GetValue(i)!) ?? -1;
                types[i] = t is >= 1 and <= 6 ? (TokenPieceType)t
                    : throw ModelFormatException.For(file.Path, string.Create(CultureInfo.InvariantCulture, $"token {i} has unknown token type {t}"));
            }
        }
        else
        {
            Array.Fill(types, TokenPieceType.Normal);
        }

        if (scores.Length != pieces.Length)
        {
            throw ModelFormatException.For(file.Path, string.Create(CultureInfo.InvariantCulture,
                $"tokenizer.ggml.scores has {scores.Length} entries but tokenizer.ggml.tokens has {pieces.Length}"));
        }

        int bos = file.TryGetInt("tokenizer.ggml.bos_token_id", out int b) ? b : 1;
        int eos = file.TryGetInt("tokenizer.ggml.eos_token_id", out int e) ? e : 2;
        int unk = file.TryGetInt("tokenizer.ggml.unknown_token_id", out int u) ? u : 0;
        return new SentencePieceTokenizer(pieces, scores, types, bos, eos, unk, file.Path, matchSpecialPieces: true)
        {
            ChatTemplate = file.GetString("tokenizer.chat_template"),
            AddsBos = Flag(file, "tokenizer.ggml.add_bos_token") ?? true,
        };
    }

    /// <summary>A bool metadata value, or null when absent.</summary>
    internal static bool? Flag(GgufFile file, string key) =>
        !file.Metadata.TryGetValue(key, out var raw) ? null
        : raw as bool? ?? throw ModelFormatException.For(file.Path, $"metadata {key} should be a bool but is {raw.GetType().Name}");
}
