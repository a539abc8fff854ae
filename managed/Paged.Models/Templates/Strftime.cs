using System.Globalization;
using System.Text;

namespace Paged.Models.Templates;

/// <summary>Python's datetime.strftime for the directives templates use (strftime_now("%d %b %Y")).</summary>
internal static class Strftime
{
    public static string Format(DateTime time, string format)
    {
        var sb = new StringBuilder();
        CultureInfo c = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }

            char d = format[++i];
            bool noPad = d == '-' && i + 1 < format.Length;
            if (noPad)
            {
                d = format[++i];
            }

            string Pad(int value, int width) => noPad ? value.ToString(c) : value.ToString(new string('0', width), c);
            sb.Append(d switch
            {
                'd' => Pad(time.Day, 2),
                'm' => Pad(time.Month, 2),
                'Y' => time.Year.ToString(c),
                'y' => Pad(time.Year % 100, 2),
                'H' => Pad(time.Hour, 2),
                'I' => Pad(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'M' => Pad(time.Minute, 2),
                'S' => Pad(time.Second, 2),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", c),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => Pad(time.DayOfYear, 3),
                'b' or 'h' => c.DateTimeFormat.GetAbbreviatedMonthName(time.Month),
                'B' => c.DateTimeFormat.GetMonthName(time.Month),
                'a' => c.DateTimeFormat.GetAbbreviatedDayName(time.DayOfWeek),
                'A' => c.DateTimeFormat.GetDayName(time.DayOfWeek),
                'w' => ((int)time.DayOfWeek).ToString(c),
                'e' => time.Day.ToString(c).PadLeft(2),
                'F' => time.ToString("yyyy-MM-dd", c),
                'T' => time.ToString("HH:mm:ss", c),
                '%' => "%",
                _ => "%" + d,
            });
        }

        return sb.ToString();
    }
}
