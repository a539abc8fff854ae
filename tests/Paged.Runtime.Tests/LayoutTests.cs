using System.Runtime.InteropServices;
using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

[TestClass]
public sealed class LayoutTests
{
    private static readonly Dictionary<string, Type> StructTypes = new()
    {
        ["pg_context_options"] = typeof(ContextOptions),
        ["pg_embedding_args"] = typeof(EmbeddingArgs),
        ["pg_rmsnorm_args"] = typeof(RmsNormArgs),
        ["pg_head_rmsnorm_args"] = typeof(HeadRmsNormArgs),
        ["pg_matmul_args"] = typeof(MatmulArgs),
        ["pg_rope_args"] = typeof(RopeArgs),
        ["pg_silu_mul_args"] = typeof(SiluMulArgs),
        ["pg_lora_args"] = typeof(LoraArgs),
        ["pg_kv_cache_desc"] = typeof(KvCacheDesc),
        ["pg_cache_write_args"] = typeof(CacheWriteArgs),
        ["pg_attention_args"] = typeof(AttentionArgs),
        ["pg_rope_cache_write_args"] = typeof(RopeCacheWriteArgs),
        ["pg_block_copy_args"] = typeof(BlockCopyArgs),
        ["pg_block_swap_args"] = typeof(BlockSwapArgs),
        ["pg_argmax_args"] = typeof(ArgmaxArgs),
        ["pg_sample_args"] = typeof(SampleArgs),
        ["pg_counters"] = typeof(BackendCounters),
    };

    /// <summary>Managed fields whose names are not the C name in PascalCase.</summary>
    private static readonly Dictionary<string, string> Renamed = new()
    {
        ["pg_counters.h2d_copies"] = nameof(BackendCounters.HostToDeviceCopies),
        ["pg_counters.d2h_copies"] = nameof(BackendCounters.DeviceToHostCopies),
    };

    /// <summary>snake_case C field name to the PascalCase C# field ("x_dtype" -> "XDType").</summary>
    private static string ManagedName(string c) =>
        string.Concat(c.Split('_').Select(part => part == "dtype" ? "DType" : char.ToUpperInvariant(part[0]) + part[1..]));

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void EveryStructMatchesTheNativeLayout(string backend)
    {
        var layouts = ApiTableTests.Library(backend).DescribeLayouts().Where(e => e.Struct != ApiTableTests.NativeTable).ToList();
        var seenStructs = new HashSet<string>();
        foreach (var entry in layouts)
        {
            Assert.IsTrue(StructTypes.TryGetValue(entry.Struct, out var type), $"native struct {entry.Struct} has no managed mirror");
            seenStructs.Add(entry.Struct);
            if (entry.Field is null)
            {
                Assert.AreEqual(entry.Size, Marshal.SizeOf(type), $"sizeof({entry.Struct})");
                continue;
            }

            string name = Renamed.GetValueOrDefault($"{entry.Struct}.{entry.Field}") ?? ManagedName(entry.Field);
            var field = type.GetField(name);
            Assert.IsNotNull(field, $"{type.Name} lacks field {name} (native {entry.Struct}.{entry.Field})");
            Assert.AreEqual(entry.Offset, (int)Marshal.OffsetOf(type, name), $"offsetof({entry.Struct}.{entry.Field})");
            Assert.AreEqual(entry.Size, Marshal.SizeOf(field.FieldType.IsEnum ? Enum.GetUnderlyingType(field.FieldType) : field.FieldType), $"sizeof({entry.Struct}.{entry.Field})");
        }

        CollectionAssert.AreEquivalent(StructTypes.Keys.ToList(), seenStructs.ToList(), "every args struct is described");
        foreach (var (cName, type) in StructTypes)
        {
            int described = layouts.Count(e => e.Struct == cName && e.Field is not null);
            Assert.AreEqual(type.GetFields().Length, described, $"{cName}: every managed field has a native counterpart");
        }
    }

    /// <summary>The function table by slot name: two swapped slots in <see cref="ApiTable"/> (which the
    /// compiler cannot see: many share a signature) fail here, naming the slot.</summary>
    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void TheApiTableMatchesPgApiSlotBySlot(string backend)
    {
        var slots = ApiTableTests.Slots(ApiTableTests.Library(backend));
        var managed = typeof(ApiTable).GetFields();
        foreach (var slot in slots)
        {
            var field = managed.SingleOrDefault(f => ApiTableTests.SameName(f.Name, slot.Field!));
            Assert.IsNotNull(field, $"managed/Paged.Runtime/Interop/NativeStructs.cs: ApiTable lacks pg_api.{slot.Field}");
            Assert.AreEqual(slot.Offset, (int)Marshal.OffsetOf<ApiTable>(field.Name), $"ApiTable.{field.Name}: offset of pg_api.{slot.Field} (slots out of order?)");
            Assert.AreEqual(slot.Size, field.FieldType.IsPointer || field.FieldType.IsFunctionPointer ? IntPtr.Size : Marshal.SizeOf(field.FieldType), $"ApiTable.{field.Name}: size of pg_api.{slot.Field}");
        }

        Assert.AreEqual(slots.Count, managed.Length, "ApiTable has fields pg_api lacks: " +
            string.Join(", ", managed.Where(f => !slots.Any(s => ApiTableTests.SameName(f.Name, s.Field!))).Select(f => f.Name)));
    }
}
