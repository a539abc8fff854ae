using Paged.Models.Gguf;

namespace Paged.Models;

/// <summary>Loads a model from either supported format, chosen by the file's magic bytes.</summary>
public static class ModelLoader
{
    public static ModelWeights Load(string path) =>
        IsGguf(path) ? GgufModel.Load(path) : Llama2cCheckpoint.Load(path);

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
