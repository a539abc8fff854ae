using System.Text;

namespace Paged.Models.Templates;

/// <summary>
/// Python's str semantics that templates rely on: whitespace, strip/split, and indexing by code point
/// (Python counts code points, .NET strings count UTF-16 units).
/// </summary>
internal static class PyStrings
{
    /// <summary>Python's str.isspace for one UTF-16 unit (adds the 0x1C-0x1F separators .NET does not count).</summary>
    public static bool IsWhitespace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static string Strip(string s, string? chars) => LStrip(RStrip(s, chars), chars);

    public static string RStrip(string s, string? chars = null)
    {
        int end = s.Length;
        while (end > 0 && Strippable(s[end - 1], chars))
        {
            end--;
        }

        return s[..end];
    }

    public static string LStrip(string s, string? chars = null)
    {
        int start = 0;
        while (start < s.Length && Strippable(s[start], chars))
        {
            start++;
        }

        return s[start..];
    }

    private static bool Strippable(char c, string? chars) => chars is null ? IsWhitespace(c) : chars.Contains(c, StringComparison.Ordinal);

    /// <summary>str.split(sep=None, maxsplit=-1).</summary>
    public static List<object?> Split(string s, string? sep, long maxSplit)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsWhitespace(s[i]))
                {
                    i++;
                }

                if (i >= s.Length)
                {
                    break;
                }

                if (maxSplit >= 0 && parts.Count >= maxSplit)
                {
                    parts.Add(RStrip(s[i..]));
                    break;
                }

                int start = i;
                while (i < s.Length && !IsWhitespace(s[i]))
                {
                    i++;
                }

                parts.Add(s[start..i]);
            }

            return parts;
        }

        if (sep.Length == 0)
        {
            throw new TemplateException("split(): empty separator");
        }

        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(sep, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            parts.Add(s[from..at]);
            from = at + sep.Length;
        }

        parts.Add(s[from..]);
        return parts;
    }

    /// <summary>str.rsplit(sep, maxsplit) for an explicit separator (templates use it to take the tail).</summary>
    public static List<object?> RSplit(string s, string? sep, long maxSplit)
    {
        if (sep is null || maxSplit < 0)
        {
            return Split(s, sep, maxSplit);
        }

        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < maxSplit)
        {
            int at = end == 0 ? -1 : s.LastIndexOf(sep, end - 1, StringComparison.Ordinal);
            if (at < 0 || at + sep.Length > end)
            {
                break;
            }

            parts.Add(s[(at + sep.Length)..end]);
            end = at;
        }

        parts.Add(s[..end]);
        parts.Reverse();
        return parts;
    }

    public static bool HasSurrogates(string s)
    {
        foreach (char c in s)
        {
            if (char.IsSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>len(str): the number of code points.</summary>
    public static int Length(string s) => HasSurrogates(s) ? CodePoints(s).Length : s.Length;

    private static string[] CodePoints(string s)
    {
        var points = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            bool pair = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]);
            points.Add(pair ? s.Substring(i++, 2) : s[i].ToString());
        }

        return [.. points];
    }

    /// <summary>s[index] with Python's negative indexing; null when out of range.</summary>
    public static string? At(string s, long index)
    {
        if (!HasSurrogates(s))
        {
            long i = index < 0 ? index + s.Length : index;
            return i >= 0 && i < s.Length ? s[(int)i].ToString() : null;
        }

        string[] points = CodePoints(s);
        long j = index < 0 ? index + points.Length : index;
        return j >= 0 && j < points.Length ? points[j] : null;
    }

    public static string Slice(string s, long? start, long? stop, long? step)
    {
        if (!HasSurrogates(s))
        {
            var sb = new StringBuilder();
            foreach (int i in SliceIndices(s.Length, start, stop, step))
            {
                sb.Append(s[i]);
            }

            return sb.ToString();
        }

        string[] points = CodePoints(s);
        var result = new StringBuilder();
        foreach (int i in SliceIndices(points.Length, start, stop, step))
        {
            result.Append(points[i]);
        }

        return result.ToString();
    }

    /// <summary>The indices Python's slice(start, stop, step).indices(length) visits.</summary>
    public static IEnumerable<int> SliceIndices(int length, long? start, long? stop, long? step)
    {
        long st = step ?? 1;
        if (st == 0)
        {
            throw new TemplateException("slice step cannot be zero");
        }

        long lo;
        long hi;
        if (st > 0)
        {
            lo = start is null ? 0 : Clamp(start.Value, length, 0, length);
            hi = stop is null ? length : Clamp(stop.Value, length, 0, length);
            for (long i = lo; i < hi; i += st)
            {
                yield return (int)i;
            }
        }
        else
        {
            lo = start is null ? length - 1 : Clamp(start.Value, length, -1, length - 1);
            hi = stop is null ? -1 : Clamp(stop.Value, length, -1, length - 1);
            for (long i = lo; i > hi; i += st)
            {
                yield return (int)i;
            }
        }
    }

    private static long Clamp(long index, int length, long min, long max)
    {
        if (index < 0)
        {
            index += length;
        }

        return Math.Clamp(index, min, max);
    }
}
