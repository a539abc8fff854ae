using System.Numerics;

namespace Paged.Models;

internal static class FloatChecks
{
    /// <summary>Index of the first NaN or infinity, or -1.</summary>
    public static long IndexOfNonFinite(ReadOnlySpan<float> data)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<float>.Count;
            for (; i + width <= data.Length; i += width)
            {
                var v = new Vector<float>(data.Slice(i, width));
                // x * 0 is 0 for finite x and NaN for NaN or infinity.
                if (!Vector.EqualsAll(v * Vector<float>.Zero, Vector<float>.Zero))
                {
                    break;
                }
            }
        }

        for (; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
