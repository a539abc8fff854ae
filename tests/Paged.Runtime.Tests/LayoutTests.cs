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
        ["pg_kv_cache_desc"] = typeof(KvCacheDesc),
        ["pg_cache_write_args"] = typeof(CacheWriteArgs),
        ["pg_attention_args"] = typeof(AttentionArgs),
        ["pg_block_copy_args"] = typeof(BlockCopyArgs),
        ["pg_block_swap_args"] = typeof(BlockSwapArgs),
        ["pg_argmax_args"] = typeof(ArgmaxArgs),
        ["pg_sample_args"] = typeof(SampleArgs),
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
        var layouts = Backends.Context(backend).Backend.DescribeLayouts();
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

            string name = ManagedName(entry.Field);
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
}
