using Paged.Models.Gguf;
using Paged.Models.Hf;

namespace Paged.Models;

/// <summary>Loads a model from any supported format: a Hugging Face checkpoint directory, GGUF, or a llama2.c checkpoint.</summary>
public static class ModelLoader
{
    public static ModelWeights Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            return HfCheckpoint.IsCheckpointDirectory(path)
                ? HfCheckpoint.Load(path)
                : throw ModelFormatException.For(path, $"is a directory without {HfConfig.FileName}; expected a Hugging Face checkpoint directory");
        }

        return IsGguf(path) ? GgufModel.Load(path) : Llama2cCheckpoint.Load(path);
    }

    /// <summary>True when the file starts with "GGUF"; throws <see cref="ModelFormatException"/> if it does not exist.</summary>
    public static bool IsGguf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw ModelFormatException.For(path, "file not found");
        }

        Span<byte> magic = stackalloc byte[4];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && "GGUF"u8.SequenceEqual(magic);
    }
}
