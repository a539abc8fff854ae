using Paged.Models.Gguf;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests.Fuzzing;

/// <summary>
/// The parsers of untrusted files, driven from a path the way the engine drives them. Every stage that can
/// run on its own does (a GGUF's tensors, model and tokenizer), so a stage that refuses the file does not
/// hide the next one. A stage may fail only with <see cref="ModelFormatException"/>; anything else escapes.
/// Shared by the CI mutation test and the coverage-guided harness in tools/fuzz.
/// </summary>
internal static class FuzzTargets
{
    public static readonly string[] Formats = ["llama2c", "tokenizer", "gguf"];

    /// <summary>Runs every stage for <paramref name="format"/>; returns how many stages accepted the file.</summary>
    public static int Run(string format, string path) => format switch
    {
        "llama2c" => Stage(() => Llama2cCheckpoint.Load(path)) + Stage(() => ModelLoader.Load(path)),
        "tokenizer" => Tokenizer(path),
        "gguf" => Gguf(path),
        _ => throw new ArgumentException($"unknown format {format}; expected one of {string.Join(", ", Formats)}", nameof(format)),
    };

    private static int Tokenizer(string path)
    {
        SentencePieceTokenizer? tokenizer = null;
        int accepted = Stage(() => tokenizer = Llama2cTokenizerFile.Load(path));
        return accepted + (tokenizer is null ? 0 : UseTokenizer(tokenizer));
    }

    private static int Gguf(string path)
    {
        GgufFile? file = null;
        if (Stage(() => file = GgufFile.Open(path)) == 0 || file is null)
            return 0;
        int accepted = 1;
        foreach (var tensor in file.Tensors)
            accepted += Stage(() => file.ReadTensor(tensor));
        accepted += Stage(() => GgufModel.Load(file));
        ITokenizer? tokenizer = null;
        accepted += Stage(() => tokenizer = GgufTokenizer.FromGguf(file));
        return accepted + (tokenizer is null ? 0 : UseTokenizer(tokenizer));
    }

    /// <summary>A vocabulary the loader accepted must encode and decode without failing.</summary>
    private static int UseTokenizer(ITokenizer tokenizer)
    {
        var ids = tokenizer.Encode("Once upon a time, a café 🙂 <s> \u2581x", addBos: true);
        _ = tokenizer.Decode(ids);
        var detokenizer = new StreamingDetokenizer(tokenizer);
        foreach (int id in ids)
            _ = detokenizer.Append(id);
        _ = detokenizer.Flush();
        return 1;
    }

    private static int Stage(Action load)
    {
        try
        {
            load();
            return 1;
        }
        catch (ModelFormatException)
        {
            return 0;
        }
    }
}
