using System.Text;

namespace Paged.Server.Tools;

/// <summary>A piece of parsed output: text content, or one complete tool call.</summary>
public readonly record struct ToolCallPiece(string? Content, ParsedToolCall? Call);

/// <summary>
/// Splits streamed model output into content and tool calls as text arrives. Text that could still be the
/// start of a call (a partial <c>&lt;tool_call&gt;</c> tag; for Llama 3 JSON, output that begins with '{') is held
/// back until it is known; a call is released whole when it closes (Hermes) or when the output ends (Llama 3 JSON,
/// whose calls have no closing marker). An invalid call is released as content; blank text between or after calls
/// (the newline models put between them) is dropped.
/// </summary>
public sealed class ToolCallStreamParser(ToolCallFormat format)
{
    private readonly StringBuilder _held = new();
    private bool _inCall;          // Hermes: inside <tool_call> ... awaiting </tool_call>
    private bool? _llamaJson;      // Llama 3: null until the first non-blank text decides
    private bool _afterCall;       // Hermes: blanks right after a call are held, and dropped before the next call or at the end

    /// <summary>Pieces that are now certain, in order.</summary>
    public IReadOnlyList<ToolCallPiece> Feed(string delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        _held.Append(delta);
        return format switch
        {
            ToolCallFormat.Hermes => DrainHermes(),
            ToolCallFormat.Llama3Json => DrainLlama3(),
            _ => ReleaseAll(),
        };
    }

    /// <summary>Everything still held, at the end of the output.</summary>
    public IReadOnlyList<ToolCallPiece> Finish()
    {
        var pieces = new List<ToolCallPiece>();
        string rest = _held.ToString();
        _held.Clear();
        if (format == ToolCallFormat.Hermes && _inCall)
        {
            // Output ended inside a block (a stop string or max_tokens may cut the closing tag).
            _inCall = false;
            Add(pieces, ToolCallParsing.HermesCall(rest), ToolCallParsing.HermesOpen + rest);
        }
        else if (format == ToolCallFormat.Llama3Json && _llamaJson == true && ToolCallParsing.Llama3Calls(rest) is { } calls)
        {
            pieces.AddRange(calls.Select(c => new ToolCallPiece(null, c)));
        }
        else if (rest.Length > 0 && !(_afterCall && string.IsNullOrWhiteSpace(rest)))
        {
            pieces.Add(new ToolCallPiece(rest, null));
        }

        return pieces;
    }

    private List<ToolCallPiece> DrainHermes()
    {
        var pieces = new List<ToolCallPiece>();
        while (true)
        {
            string text = _held.ToString();
            if (_inCall)
            {
                int close = text.IndexOf(ToolCallParsing.HermesClose, StringComparison.Ordinal);
                if (close < 0)
                    return pieces;
                string body = text[..close];
                var call = ToolCallParsing.HermesCall(body);
                Add(pieces, call, ToolCallParsing.HermesOpen + body + ToolCallParsing.HermesClose);
                _held.Remove(0, close + ToolCallParsing.HermesClose.Length);
                _inCall = false;
                _afterCall = call is not null;
                continue;
            }

            int open = text.IndexOf(ToolCallParsing.HermesOpen, StringComparison.Ordinal);
            if (open >= 0)
            {
                if (open > 0 && !(_afterCall && string.IsNullOrWhiteSpace(text[..open])))
                    pieces.Add(new ToolCallPiece(text[..open], null));
                _held.Remove(0, open + ToolCallParsing.HermesOpen.Length);
                _inCall = true;
                continue;
            }

            int keep = PartialPrefixLength(text, ToolCallParsing.HermesOpen);
            if (_afterCall && string.IsNullOrWhiteSpace(text[..^keep]))
                return pieces;
            if (text.Length > keep)
                pieces.Add(new ToolCallPiece(text[..^keep], null));
            _held.Remove(0, text.Length - keep);
            _afterCall = false;
            return pieces;
        }
    }

    private List<ToolCallPiece> DrainLlama3()
    {
        if (_llamaJson is null)
        {
            string text = _held.ToString().TrimStart();
            if (text.Length == 0 || (text.Length < ToolCallParsing.PythonTag.Length && ToolCallParsing.PythonTag.StartsWith(text, StringComparison.Ordinal)))
                return [];
            string body = ToolCallParsing.StripPythonTag(text).TrimStart();
            if (body.Length == 0)
                return [];
            _llamaJson = body[0] == '{';
        }

        return _llamaJson == true ? [] : ReleaseAll();
    }

    private List<ToolCallPiece> ReleaseAll()
    {
        if (_held.Length == 0)
            return [];
        var piece = new ToolCallPiece(_held.ToString(), null);
        _held.Clear();
        return [piece];
    }

    private static void Add(List<ToolCallPiece> pieces, ParsedToolCall? call, string raw) =>
        pieces.Add(call is null ? new ToolCallPiece(raw, null) : new ToolCallPiece(null, call));

    /// <summary>The length of the longest suffix of <paramref name="text"/> that is a proper prefix of <paramref name="tag"/>.</summary>
    private static int PartialPrefixLength(string text, string tag)
    {
        for (int n = Math.Min(text.Length, tag.Length - 1); n > 0; n--)
        {
            if (text.AsSpan(text.Length - n).SequenceEqual(tag.AsSpan(0, n)))
                return n;
        }

        return 0;
    }
}
