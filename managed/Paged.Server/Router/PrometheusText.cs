using System.Globalization;

namespace Paged.Server.Router;

/// <summary>Reads samples from the Prometheus text exposition format (what an instance's /metrics serves).</summary>
internal static class PrometheusText
{
    /// <summary>The sum of every sample of <paramref name="name"/> (over all label sets); null when there is none.</summary>
    public static double? Sum(string text, string name)
    {
        ArgumentNullException.ThrowIfNull(text);
        double? sum = null;
        foreach (var range in text.AsSpan().Split('\n'))
        {
            var line = text.AsSpan(range.Start.Value, range.End.Value - range.Start.Value).Trim();
            if (line.IsEmpty || line[0] == '#' || !line.StartsWith(name, StringComparison.Ordinal))
                continue;
            var rest = line[name.Length..];
            if (rest.IsEmpty || (rest[0] != '{' && rest[0] != ' '))
                continue; // a longer name with this prefix
            if (rest[0] == '{')
            {
                int close = rest.LastIndexOf('}');
                if (close < 0)
                    continue;
                rest = rest[(close + 1)..];
            }

            // "value" or "value timestamp"
            rest = rest.Trim();
            int space = rest.IndexOf(' ');
            var value = space < 0 ? rest : rest[..space];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v))
                sum = (sum ?? 0) + v;
        }

        return sum;
    }
}
