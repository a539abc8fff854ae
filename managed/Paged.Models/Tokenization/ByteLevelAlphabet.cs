using System.Text;

namespace Paged.Models.Tokenization;

/// <summary>
/// GPT-2's byte-to-character table (bytes_to_unicode): printable Latin-1 bytes stand for themselves, the other 68 bytes
/// (controls, space, 0x7F-0xA0, 0xAD) for U+0100 onwards in byte order. Byte-level BPE vocabularies are written in it.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = Build();
    private static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(p => p.c, p => (byte)p.b);

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, one table character per byte.</summary>
    public static string Encode(string text) => FromBytes(Encoding.UTF8.GetBytes(text));

    /// <summary>One table character per byte.</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = ByteToChar[bytes[i]];
        }

        return new string(chars);
    }

    /// <summary>The bytes a vocabulary token stands for; characters outside the table are kept as their UTF-8.</summary>
    public static byte[] Decode(string token)
    {
        var bytes = new List<byte>(token.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in token.EnumerateRunes())
        {
            if (rune.IsBmp && CharToByte.TryGetValue((char)rune.Value, out byte b))
            {
                bytes.Add(b);
            }
            else
            {
                bytes.AddRange(utf8[..rune.EncodeToUtf8(utf8)]);
            }
        }

        return [.. bytes];
    }

    private static char[] Build()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }

        return table;
    }
}
