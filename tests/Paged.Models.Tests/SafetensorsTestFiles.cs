using System.Buffers.Binary;
using System.Text;
using Paged.Models.Hf;
using Paged.Models.Weights;

namespace Paged.Models.Tests;

/// <summary>Builders of safetensors files and checkpoint directories for loader tests.</summary>
internal static class SafetensorsTestFiles
{
    public static string Tiny(string name) => Path.Combine(TestPaths.Shared, "models", "hf-tiny", name);

    /// <summary>A file whose header is <paramref name="json"/> (verbatim) followed by <paramref name="dataBytes"/> bytes.</summary>
    public static byte[] Raw(string json, int dataBytes)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (int i = 8 + header.Length; i < bytes.Length; i++)
            bytes[i] = (byte)i;
        return bytes;
    }

    /// <summary>A small valid file: three tensors of the three dtypes.</summary>
    public static byte[] Small()
    {
        var writer = new SafetensorsWriter()
            .Add("a", WeightDType.F32, [1f, -2f, 3.5f, 4f, 5f, 6f], 2, 3)
            .Add("b", WeightDType.BF16, [0.5f, -1.25f, 3f], 3)
            .Add("c", WeightDType.F16, [0.25f, 2f], 1, 2);
        using var stream = new MemoryStream();
        writer.Write(stream);
        return stream.ToArray();
    }

    /// <summary>Copies a checkpoint's json files to <paramref name="dir"/> and rewrites its weights through <see cref="SafetensorsWriter"/>, keeping tensors <paramref name="keep"/> accepts.</summary>
    public static void CopyCheckpoint(string from, string dir, Func<string, bool> keep, int shards = 1)
    {
        foreach (string json in Directory.GetFiles(from, "*.json"))
            File.Copy(json, Path.Combine(dir, Path.GetFileName(json)));
        using var weights = HfCheckpoint.Load(from);
        var tensors = weights.AllTensors.Where(t => keep(t.Name)).ToList();
        if (shards == 1)
        {
            Writer(tensors).Save(Path.Combine(dir, HfCheckpoint.SingleFile));
            return;
        }

        var map = new StringBuilder("{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
        for (int s = 0; s < shards; s++)
        {
            string file = $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
            var part = tensors.Where((_, i) => i % shards == s).ToList();
            Writer(part).Save(Path.Combine(dir, file));
            foreach (var t in part)
                map.Append($"\"{t.Name}\": \"{file}\",");
        }

        map.Length--;
        map.Append("}}");
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.IndexFile), map.ToString());
    }

    private static SafetensorsWriter Writer(IEnumerable<WeightTensor> tensors)
    {
        var writer = new SafetensorsWriter();
        foreach (var t in tensors)
            writer.Add(t.Name, t.DType, [.. t.Shape], (start, chunk) => t.ReadF32(start, chunk));
        return writer;
    }
}
