namespace Paged.Models.Tokenization;

/// <summary>Loads the tokenizer of a HuggingFace model directory: tokenizer.json plus tokenizer_config.json and chat_template.jinja.</summary>
public static class HfTokenizerLoader
{
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>True when <paramref name="directory"/> holds a tokenizer.json.</summary>
    public static bool IsHfDirectory(string directory) => File.Exists(Path.Combine(directory, TokenizerFile));

    /// <summary>Loads <paramref name="directory"/>/tokenizer.json with the directory's tokenizer_config.json and chat template.</summary>
    public static HfTokenizer Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return LoadFile(Path.Combine(directory, TokenizerFile));
    }

    /// <summary>Loads a tokenizer.json file; tokenizer_config.json and chat_template.jinja are read from beside it when present.</summary>
    public static HfTokenizer LoadFile(string tokenizerJson)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJson);
        string directory = Path.GetDirectoryName(Path.GetFullPath(tokenizerJson)) ?? ".";
        var settings = HfTokenizerConfig.Read(directory);
        return new HfTokenizer(HfTokenizerJson.Read(tokenizerJson, settings));
    }
}
