namespace Paged.Models;

/// <summary>A model or tokenizer file is missing, malformed or inconsistent. The message starts with the file path.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message) : base(message) { }

    public ModelFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Builds "path: problem".</summary>
    public static ModelFormatException For(string path, string problem) => new($"{path}: {problem}");
}
