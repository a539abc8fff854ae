namespace Paged.Models.Gguf;

/// <summary>Typed access to GGUF metadata values.</summary>
public static class GgufMetadata
{
    /// <summary>Any integer metadata value as Int64, or null when the value is not an integer (or a uint64 above Int64.MaxValue).</summary>
    public static long? ToInt64(object value) => value switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        ulong v when v <= long.MaxValue => (long)v,
        long v => v,
        _ => null,
    };

    public static bool TryGetInt(this GgufFile file, string key, out int value)
    {
        ArgumentNullException.ThrowIfNull(file);
        value = 0;
        if (!file.Metadata.TryGetValue(key, out var raw))
        {
            return false;
        }

        long? v = ToInt64(raw);
        if (v is null || v < int.MinValue || v > int.MaxValue)
        {
            throw ModelFormatException.For(file.Path, $"metadata {key} should be a 32-bit integer but is {raw} ({raw.GetType().Name})");
        }

        value = (int)v.Value;
        return true;
    }

    public static int GetRequiredInt(this GgufFile file, string key) =>
        file.TryGetInt(key, out int v) ? v : throw ModelFormatException.For(file.Path, $"metadata key {key} is missing");

    public static float? GetFloat(this GgufFile file, string key)
    {
        ArgumentNullException.ThrowIfNull(file);
        return !file.Metadata.TryGetValue(key, out var raw) ? null : raw switch
        {
            float f => f,
            double d => (float)d,
            _ => ToInt64(raw) is { } i ? i : throw ModelFormatException.For(file.Path, $"metadata {key} should be a number but is {raw.GetType().Name}"),
        };
    }

    public static string? GetString(this GgufFile file, string key)
    {
        ArgumentNullException.ThrowIfNull(file);
        return !file.Metadata.TryGetValue(key, out var raw) ? null
            : raw as string ?? throw ModelFormatException.For(file.Path, $"metadata {key} should be a string but is {raw.GetType().Name}");
    }

    /// <summary>The array stored under <paramref name="key"/>, or null if absent; throws if present with another element type.</summary>
    public static T[]? GetArray<T>(this GgufFile file, string key)
    {
        ArgumentNullException.ThrowIfNull(file);
        return !file.Metadata.TryGetValue(key, out var raw) ? null
            : raw as T[] ?? throw ModelFormatException.For(file.Path, $"metadata {key} should be an array of {typeof(T).Name} but is {raw.GetType().Name}");
    }
}
