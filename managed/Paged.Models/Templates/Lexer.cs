using System.Text;

namespace Paged.Models.Templates;

/// <summary>
/// Splits a template into data and tag tokens with the whitespace rules transformers configures:
/// trim_blocks (drop the first newline after a block or comment tag), lstrip_blocks (drop spaces and tabs
/// before a block or comment tag that starts its line) and the explicit '-' / '+' markers.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";",
    ];

    private readonly SourceText _source;
    private readonly string _text;
    private readonly List<Token> _tokens = [];
    private int _pos;
    private bool _lineStarting = true;

    private Lexer(SourceText source)
    {
        _source = source;
        _text = source.Text;
    }

    public static List<Token> Tokenize(SourceText source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        while (_pos < _text.Length)
        {
            int tag = FindTagStart(_pos);
            if (tag < 0)
            {
                AddData(_text[_pos..], _pos);
                _pos = _text.Length;
                break;
            }

            char kind = _text[tag + 1];
            int after = tag + 2;
            char sign = after < _text.Length && (_text[after] == '-' || _text[after] == '+') ? _text[after] : '\0';
            string data = _text[_pos..tag];
            if (sign == '-')
            {
                data = PyStrings.RStrip(data);
            }
            else if (sign != '+' && kind != '{')
            {
                data = LStripBlock(data);
            }

            AddData(data, _pos);
            _pos = after + (sign == '\0' ? 0 : 1);
            if (kind == '#')
            {
                SkipComment(tag);
            }
            else if (kind == '%' && TryRaw(tag))
            {
                continue;
            }
            else
            {
                LexTag(kind == '%', tag);
            }
        }

        _tokens.Add(new Token(TokenKind.Eof, "", _text.Length));
    }

    private int FindTagStart(int from)
    {
        for (int i = _text.IndexOf('{', from); i >= 0 && i + 1 < _text.Length; i = _text.IndexOf('{', i + 1))
        {
            char next = _text[i + 1];
            if (next == '{' || next == '%' || next == '#')
            {
                return i;
            }
        }

        return -1;
    }

    private string LStripBlock(string data)
    {
        int lineStart = data.LastIndexOf('\n') + 1;
        if ((lineStart > 0 || _lineStarting) && lineStart < data.Length && IsAllWhitespace(data, lineStart))
        {
            return data[..lineStart];
        }

        return data;
    }

    private static bool IsAllWhitespace(string s, int from)
    {
        for (int i = from; i < s.Length; i++)
        {
            if (!PyStrings.IsWhitespace(s[i]))
            {
                return false;
            }
        }

        return true;
    }

    private void AddData(string data, int offset)
    {
        if (data.Length > 0)
        {
            _tokens.Add(new Token(TokenKind.Data, data, offset));
        }
    }

    /// <summary>Consumes what follows a tag end: all whitespace after '-', else one newline after a block or comment.</summary>
    private void AfterTagEnd(bool stripAll, bool isBlock)
    {
        int start = _pos;
        if (stripAll)
        {
            while (_pos < _text.Length && PyStrings.IsWhitespace(_text[_pos]))
            {
                _pos++;
            }
        }
        else if (isBlock && _pos < _text.Length && _text[_pos] == '\n')
        {
            _pos++;
        }

        // Jinja's line_starting: whether the text the last match consumed ended with a newline.
        _lineStarting = _pos > start ? _text[_pos - 1] == '\n' : false;
    }

    private void SkipComment(int tagStart)
    {
        int end = _text.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0)
        {
            throw _source.Error(tagStart, "missing end of comment tag '#}'");
        }

        bool strip = end > _pos && _text[end - 1] == '-';
        _pos = end + 2;
        AfterTagEnd(strip, isBlock: true);
    }

    /// <summary>{% raw %}...{% endraw %}: the body is data, untouched.</summary>
    private bool TryRaw(int tagStart)
    {
        int p = SkipSpaces(_pos);
        if (string.CompareOrdinal(_text, p, "raw", 0, 3) != 0)
        {
            return false;
        }

        p = SkipSpaces(p + 3);
        bool strip = p < _text.Length && _text[p] == '-';
        if (strip)
        {
            p++;
        }

        if (string.CompareOrdinal(_text, p, "%}", 0, 2) != 0)
        {
            return false;
        }

        _pos = p + 2;
        AfterTagEnd(strip, isBlock: false);
        for (int search = _pos; ;)
        {
            int open = _text.IndexOf("{%", search, StringComparison.Ordinal);
            if (open < 0)
            {
                throw _source.Error(tagStart, "missing '{% endraw %}' for this raw block");
            }

            int q = open + 2;
            char sign = q < _text.Length && (_text[q] == '-' || _text[q] == '+') ? _text[q] : '\0';
            q = SkipSpaces(q + (sign == '\0' ? 0 : 1));
            if (string.CompareOrdinal(_text, q, "endraw", 0, 6) == 0)
            {
                q = SkipSpaces(q + 6);
                bool endStrip = q < _text.Length && _text[q] == '-';
                q += endStrip ? 1 : 0;
                if (string.CompareOrdinal(_text, q, "%}", 0, 2) == 0)
                {
                    string body = _text[_pos..open];
                    AddData(sign == '-' ? PyStrings.RStrip(body) : body, _pos);
                    _pos = q + 2;
                    AfterTagEnd(endStrip, isBlock: true);
                    return true;
                }
            }

            search = open + 2;
        }
    }

    private int SkipSpaces(int p)
    {
        while (p < _text.Length && PyStrings.IsWhitespace(_text[p]))
        {
            p++;
        }

        return p;
    }

    private void LexTag(bool isBlock, int tagStart)
    {
        _tokens.Add(new Token(isBlock ? TokenKind.BlockBegin : TokenKind.VariableBegin, "", tagStart));
        char endChar = isBlock ? '%' : '}';
        var brackets = new Stack<(char Close, int Offset)>();
        while (true)
        {
            _pos = SkipSpaces(_pos);
            if (_pos >= _text.Length)
            {
                throw _source.Error(tagStart, isBlock ? "unexpected end of template: missing '%}'" : "unexpected end of template: missing '}}'");
            }

            if (brackets.Count == 0)
            {
                bool dash = _text[_pos] == '-' && At(_pos + 1, endChar, '}');
                if (dash || At(_pos, endChar, '}'))
                {
                    _tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, "", _pos));
                    _pos += dash ? 3 : 2;
                    AfterTagEnd(dash, isBlock);
                    return;
                }
            }

            LexOne(brackets);
        }
    }

    private bool At(int p, char a, char b) => p + 1 < _text.Length && _text[p] == a && _text[p + 1] == b;

    private void LexOne(Stack<(char Close, int Offset)> brackets)
    {
        int start = _pos;
        char c = _text[_pos];
        if (c == '\'' || c == '"')
        {
            _tokens.Add(new Token(TokenKind.String, LexString(c), start));
            return;
        }

        if (char.IsAsciiDigit(c))
        {
            LexNumber(start);
            return;
        }

        if (char.IsLetter(c) || c == '_')
        {
            while (_pos < _text.Length && (char.IsLetterOrDigit(_text[_pos]) || _text[_pos] == '_'))
            {
                _pos++;
            }

            _tokens.Add(new Token(TokenKind.Name, _text[start.._pos], start));
            return;
        }

        foreach (string op in Operators)
        {
            if (string.CompareOrdinal(_text, _pos, op, 0, op.Length) == 0)
            {
                TrackBracket(op[0], start, brackets);
                _pos += op.Length;
                _tokens.Add(new Token(TokenKind.Operator, op, start));
                return;
            }
        }

        throw _source.Error(start, $"unexpected character '{c}'");
    }

    private void TrackBracket(char c, int offset, Stack<(char Close, int Offset)> brackets)
    {
        switch (c)
        {
            case '(': brackets.Push((')', offset)); break;
            case '[': brackets.Push((']', offset)); break;
            case '{': brackets.Push(('}', offset)); break;
            case ')' or ']' or '}':
                if (brackets.Count == 0)
                {
                    throw _source.Error(offset, $"unexpected '{c}'");
                }

                if (brackets.Peek().Close != c)
                {
                    throw _source.Error(offset, $"unexpected '{c}', expected '{brackets.Peek().Close}'");
                }

                brackets.Pop();
                break;
        }
    }

    private void LexNumber(int start)
    {
        SkipDigits();
        bool isFloat = false;
        if (_pos + 1 < _text.Length && _text[_pos] == '.' && char.IsAsciiDigit(_text[_pos + 1]))
        {
            _pos++;
            SkipDigits();
            isFloat = true;
        }

        if (_pos < _text.Length && (_text[_pos] == 'e' || _text[_pos] == 'E'))
        {
            int save = _pos;
            _pos++;
            if (_pos < _text.Length && (_text[_pos] == '+' || _text[_pos] == '-'))
            {
                _pos++;
            }

            if (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                SkipDigits();
                isFloat = true;
            }
            else
            {
                _pos = save;
            }
        }

        string literal = _text[start.._pos].Replace("_", "", StringComparison.Ordinal);
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, literal, start));
    }

    private void SkipDigits()
    {
        while (_pos < _text.Length && (char.IsAsciiDigit(_text[_pos]) || (_text[_pos] == '_' && _pos + 1 < _text.Length && char.IsAsciiDigit(_text[_pos + 1]))))
        {
            _pos++;
        }
    }

    /// <summary>A quoted literal decoded as Python's unicode-escape does (Jinja's string literal rule).</summary>
    private string LexString(char quote)
    {
        int start = _pos;
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length)
            {
                throw _source.Error(start, "unterminated string literal");
            }

            char c = _text[_pos++];
            if (c == quote)
            {
                return sb.ToString();
            }

            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            if (_pos >= _text.Length)
            {
                throw _source.Error(start, "unterminated string literal");
            }

            DecodeEscape(sb, start);
        }
    }

    private void DecodeEscape(StringBuilder sb, int literalStart)
    {
        char e = _text[_pos++];
        switch (e)
        {
            case '\n': break;
            case '\\': sb.Append('\\'); break;
            case '\'': sb.Append('\''); break;
            case '"': sb.Append('"'); break;
            case 'a': sb.Append('\a'); break;
            case 'b': sb.Append('\b'); break;
            case 'f': sb.Append('\f'); break;
            case 'n': sb.Append('\n'); break;
            case 'r': sb.Append('\r'); break;
            case 't': sb.Append('\t'); break;
            case 'v': sb.Append('\v'); break;
            case 'x': AppendCodePoint(sb, ReadHex(2, literalStart), literalStart); break;
            case 'u': AppendCodePoint(sb, ReadHex(4, literalStart), literalStart); break;
            case 'U': AppendCodePoint(sb, ReadHex(8, literalStart), literalStart); break;
            case >= '0' and <= '7':
                int value = e - '0';
                for (int i = 0; i < 2 && _pos < _text.Length && _text[_pos] is >= '0' and <= '7'; i++)
                {
                    value = (value * 8) + (_text[_pos++] - '0');
                }

                sb.Append((char)value);
                break;
            default:
                sb.Append('\\').Append(e);
                break;
        }
    }

    private int ReadHex(int digits, int literalStart)
    {
        if (_pos + digits > _text.Length)
        {
            throw _source.Error(literalStart, "truncated \\x, \\u or \\U escape in string literal");
        }

        int value = 0;
        for (int i = 0; i < digits; i++)
        {
            int d = HexDigit(_text[_pos++]);
            if (d < 0)
            {
                throw _source.Error(literalStart, "invalid \\x, \\u or \\U escape in string literal");
            }

            value = (value * 16) + d;
        }

        return value;
    }

    private static int HexDigit(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    private void AppendCodePoint(StringBuilder sb, int codePoint, int literalStart)
    {
        if (codePoint > 0x10FFFF || codePoint < 0)
        {
            throw _source.Error(literalStart, "escape outside the Unicode range in string literal");
        }

        if (codePoint is >= 0xD800 and <= 0xDFFF)
        {
            sb.Append((char)codePoint);
        }
        else
        {
            sb.Append(char.ConvertFromUtf32(codePoint));
        }
    }
}
