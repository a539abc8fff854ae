using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Paged.Models.Tokenization;

/// <summary>Reads llama2.c tokenizer.bin files (int32 max_token_length, then per piece: float32 score, int32 length, bytes).</summary>
public static class Llama2cTokenizerFile
{
    public const int BosId = 1;
    public const int EosId = 2;
    public const int UnknownId = 0;
    private const int FirstBytePiece = 3;

    /// <summary>Loads the tokenizer and checks that it has exactly <paramref name="vocabSize"/> pieces.</summary>
    public static SentencePieceTokenizer Load(string path, int vocabSize)
    {
        var tokenizer = Load(path);
        if (tokenizer.VocabSize != vocabSize)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"tokenizer has {tokenizer.VocabSize} pieces but the model has vocab {vocabSize}; wrong tokenizer file?"));
        }

        return tokenizer;
    }

    /// <summary>Loads the tokenizer; the piece count is however many pieces the file holds.</summary>
    public static SentencePieceTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw ModelFormatException.For(path, "file not found");
        }

        var (rawPieces, scores) = ReadRaw(path, File.ReadAllBytes(path));
        if (rawPieces.Count < FirstBytePiece + 256)
        {
            throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                $"tokenizer has only {rawPieces.Count} pieces; a llama2.c tokenizer needs <unk>, <s>, </s> and 256 byte pieces"));
        }

        var pieces = new string[rawPieces.Count];
        var types = new TokenPieceType[rawPieces.Count];
        for (int i = 0; i < pieces.Length; i++)
        {
            (pieces[i], types[i]) = i switch
            {
                UnknownId => ("<unk>", TokenPieceType.Unknown),
                BosId => ("<s>", TokenPieceType.Control),
                EosId => ("</s>", TokenPieceType.Control),
                < FirstBytePiece + 256 => (string.Create(CultureInfo.InvariantCulture, $"<0x{i - FirstBytePiece:X2}>"), TokenPieceType.Byte),
                _ => (rawPieces[i].Replace(' ', '\u2581'), TokenPieceType.Normal),
            };
        }

        return new SentencePieceTokenizer(pieces, scores, types, BosId, EosId, UnknownId, path);
    }

    private static (List<string> Pieces, List<float> Scores) ReadRaw(string path, byte[] data)
    {
        if (data.Length < 4)
        {
            throw ModelFormatException.For(path, $"file is {data.Length} bytes; too short for a llama2.c tokenizer header");
        }

        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxLength <= 0 || maxLength > 1 << 16)
        {
            throw ModelFormatException.For(path, $"max_token_length {maxLength} is not plausible; not a llama2.c tokenizer file?");
        }

        var pieces = new List<string>();
        var scores = new List<float>();
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        int pos = 4;
        while (pos < data.Length)
        {
            int id = pieces.Count;
            if (data.Length - pos < 8)
            {
                throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                    $"file ends inside the header of piece {id} (at byte {pos} of {data.Length}); the file is truncated"));
            }

            float score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(pos));
            int length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(pos + 4));
            pos += 8;
            if (length < 0 || length > maxLength || length > data.Length - pos)
            {
                throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
                    $"piece {id} has length {length} at byte {pos - 4}, which is negative, above max_token_length {maxLength} or beyond the end of the file ({data.Length} bytes); the file is truncated or corrupt"));
            }

            if (!float.IsFinite(score))
            {
                throw ModelFormatException.For(path, $"piece {id} has a non-finite score");
            }

            try
            {
                pieces.Add(utf8.GetString(data, pos, length));
            }
            catch (DecoderFallbackException e)
            {
                throw new ModelFormatException($"{path}: piece {id} is not valid UTF-8", e);
            }

            scores.Add(score);
            pos += length;
        }

        return (pieces, scores);
    }
}
