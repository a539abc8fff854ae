using System.Text.RegularExpressions;
using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// paged.h's <c>pg_api</c> is the one list of ops (docs/adding-an-op.md). describe_layouts lists its
/// slots (native/common/layouts.cpp, held to paged.h by a static_assert); these tests hold the other
/// places to that list, by name: each backend's table (native/cpu/api.cpp, native/cuda/api.cu) and the
/// runtime's calls. The C# mirror is checked in <see cref="LayoutTests"/>.
/// </summary>
[TestClass]
public sealed unsafe partial class ApiTableTests
{
    public const string NativeTable = "pg_api";

    /// <summary>Slots that hold data, not functions, and last_error (which the probes read).</summary>
    private static readonly string[] NotProbed = ["abi_version", "struct_size", "backend_name", "last_error"];

    /// <summary>"head_rmsnorm" and "HeadRmsNorm" name the same slot.</summary>
    public static bool SameName(string managed, string native) =>
        string.Equals(managed, native.Replace("_", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);

    /// <summary>The backend's library, without a context (the probes need no device), or inconclusive.</summary>
    public static Backend Library(string name)
    {
        if (!Backend.IsAvailable(name))
            Assert.Inconclusive($"backend '{name}' is not built on this machine (libpaged_{name}.so missing)");
        try
        {
            return Backend.Load(name);
        }
        catch (BackendException e) when (e.InnerException is DllNotFoundException)
        {
            // e.g. libpaged_cuda.so is built but the CUDA runtime it links is not installed here.
            Assert.Inconclusive($"backend '{name}' cannot be loaded here: {e.Message}");
            throw;
        }
    }

    /// <summary>The pg_api slots, in table order, with a check of the table's size.</summary>
    public static List<NativeFieldLayout> Slots(Backend backend)
    {
        var entries = backend.DescribeLayouts().Where(e => e.Struct == NativeTable).ToList();
        var size = entries.SingleOrDefault(e => e.Field is null);
        Assert.IsNotNull(size, $"{backend.Name}: describe_layouts does not describe pg_api");
        Assert.AreEqual(size.Size, sizeof(ApiTable), $"{backend.Name}: sizeof(pg_api) vs sizeof(ApiTable)");
        return [.. entries.Where(e => e.Field is not null).OrderBy(e => e.Offset)];
    }

    /// <summary>
    /// Every slot of the backend's table is set and is the op it is named after: called with every
    /// argument zero (a NULL context first), each op fails naming itself ("rope: ctx must not be NULL"),
    /// so two ops swapped in a kApi table, or one left out (a NULL slot), fail here by name. Every pg_api
    /// function takes at most five pointer or integer arguments (none floating point), so the call passes
    /// zeros in the registers each of them reads on the x86-64 and AArch64 calling conventions.
    /// </summary>
    [TestMethod]
    [DataRow("cpu", "native/cpu/api.cpp")]
    [DataRow("simt", "native/cuda/api.cu")]
    [DataRow("cuda", "native/cuda/api.cu")]
    public void EverySlotIsSetAndIsTheOpItIsNamedAfter(string backend, string table)
    {
        var library = Library(backend);
        byte* api = (byte*)library.Api;
        foreach (var slot in Slots(library))
        {
            nint fn = *(nint*)(api + slot.Offset);
            Assert.AreNotEqual(0, fn, $"{backend}: pg_api.{slot.Field} is NULL: {table}'s kApi lacks it");
            if (NotProbed.Contains(slot.Field))
                continue;
            var status = ((delegate* unmanaged[Cdecl]<nint, nint, nint, nint, nint, Status>)fn)(0, 0, 0, 0, 0);
            string message = library.LastError();
            Assert.AreEqual(Status.InvalidArgument, status, $"{backend}: pg_api.{slot.Field} with zero arguments: {message}");
            Assert.IsTrue(message.StartsWith(slot.Field + ":", StringComparison.Ordinal),
                $"{backend}: pg_api.{slot.Field} answers \"{message}\": {table}'s kApi holds another op in its place (out of paged.h's order?)");
        }
    }

    /// <summary>The runtime calls every op slot (a DeviceContext method per op), and each checked call
    /// <c>Check(Api->X(...), "x")</c> names the slot it calls, so error messages say the right op.</summary>
    [TestMethod]
    public void TheRuntimeCallsEverySlotUnderItsOwnName()
    {
        var sources = Directory.EnumerateFiles(Path.Combine(SimtEmulatorTests.RepoRoot, "managed", "Paged.Runtime"), "*.cs", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(SimtEmulatorTests.RepoRoot, f), File.ReadAllText);
        foreach (var (file, text) in sources)
        {
            foreach (Match m in CheckedCall().Matches(text))
                Assert.IsTrue(SameName(m.Groups[1].Value, m.Groups[2].Value), $"{file}: Api->{m.Groups[1].Value} is reported as \"{m.Groups[2].Value}\"");
        }

        var called = sources.Values.SelectMany(text => SlotCall().Matches(text).Select(m => m.Groups[1].Value)).ToHashSet();
        var uncalled = Slots(Library("cpu")).Select(s => s.Field!)
            .Where(s => !NotProbed.Contains(s) && !called.Any(c => SameName(c, s))).ToList();
        Assert.IsEmpty(uncalled, "pg_api slots that no managed/Paged.Runtime file calls (a DeviceContext method per op): " + string.Join(", ", uncalled));
    }

    // Check(Api->Embedding(Ctx, a), "embedding"), backend.Check(backend.Api->ContextCreate(...), "context_create").
    [GeneratedRegex(@"Check\((?:\w+\.)?_?[Aa]pi->(\w+)\((?:[^()]|\([^()]*\))*\),\s*""(\w+)""\)")]
    private static partial Regex CheckedCall();

    [GeneratedRegex(@"_?[Aa]pi->(\w+)\(")]
    private static partial Regex SlotCall();
}
