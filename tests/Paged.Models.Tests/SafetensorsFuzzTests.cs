using System.Buffers.Binary;
using CsCheck;
using Paged.Models.Hf;

namespace Paged.Models.Tests;

/// <summary>
/// Mutation test of the safetensors reader: random byte flips, insertions, deletions and truncations of a valid file
/// (mostly in its header) must give either a file whose every tensor reads back, or a <see cref="ModelFormatException"/>;
/// never another exception or a crash. Bounded by iterations so it runs in CI in about a second.
/// </summary>
[TestClass]
public sealed class SafetensorsFuzzTests
{
    private static readonly byte[] Valid = SafetensorsTestFiles.Small();

    private static readonly Gen<(int Kind, int Position, byte Value, int Count)> Mutations = Gen.Select(
        Gen.Int[0, 4], Gen.Int[0, Valid.Length - 1], Gen.Byte, Gen.Int[1, 6]);

    private static byte[] Mutate(IEnumerable<(int Kind, int Position, byte Value, int Count)> edits)
    {
        var bytes = Valid.ToList();
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(Valid);
        foreach (var (kind, position, value, count) in edits)
        {
            // Aim most edits at the header, where the parser works.
            int at = Math.Min(position % headerEnd, bytes.Count);
            switch (kind)
            {
                case 0: if (at < bytes.Count) bytes[at] = value; break;
                case 1: bytes.InsertRange(at, Enumerable.Repeat(value, count)); break;
                case 2: bytes.RemoveRange(at, Math.Min(count, bytes.Count - at)); break;
                case 3: bytes.RemoveRange(Math.Min(position, bytes.Count), bytes.Count - Math.Min(position, bytes.Count)); break;
                default:
                    // A plausible digit in place of another: offsets and shapes change but stay numbers.
                    if (at < bytes.Count && bytes[at] is >= (byte)'0' and <= (byte)'9')
                        bytes[at] = (byte)('0' + (value % 10));
                    break;
            }
        }

        return [.. bytes];
    }

    [TestMethod]
    public void Mutated_headers_are_read_or_refused_never_crash()
    {
        using var dir = new TempDir();
        int refused = 0, read = 0;
        Mutations.Array[1, 4].Sample(edits =>
        {
            byte[] bytes = Mutate(edits);
            string path = dir.File($"m{Environment.CurrentManagedThreadId}.safetensors");
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = SafetensorsFile.Open(path);
                foreach (var t in file.Tensors)
                    _ = t.ToArray();
                Interlocked.Increment(ref read);
            }
            catch (ModelFormatException e)
            {
                Assert.IsTrue(e.Message.StartsWith(path, StringComparison.Ordinal), e.Message);
                Interlocked.Increment(ref refused);
            }
        }, iter: 1500, threads: 1, seed: "0N0XIzNsQ0O2");
        Console.WriteLine($"{read} mutants read, {refused} refused");
        Assert.IsGreaterThan(500, refused, "most mutants are invalid");
        Assert.IsGreaterThan(20, read, "some mutants stay valid (digit swaps inside padding or values)");
    }
}
