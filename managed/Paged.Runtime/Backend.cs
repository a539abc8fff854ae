using System.Runtime.InteropServices;
using Paged.Runtime.Interop;

namespace Paged.Runtime;

/// <summary>
/// One loaded native backend library (libpaged_cpu.so, ...). The library exports a single
/// <c>pg_get_api</c> entry point returning a table of function pointers, so several backends can be
/// loaded side by side. Libraries are loaded once per process and never unloaded.
/// </summary>
public sealed unsafe class Backend
{
    /// <summary>The ABI version this host was written against (PG_ABI_VERSION).</summary>
    public const uint AbiVersion = 1;

    /// <summary>Environment variable naming an extra directory searched for backend libraries.</summary>
    public const string NativeDirVariable = "PAGED_NATIVE_DIR";

    private static readonly Dictionary<string, Backend> Loaded = new(StringComparer.Ordinal);
    private static readonly Lock LoadLock = new();

    private readonly ApiTable* _api;

    private Backend(string name, string path, ApiTable* api)
    {
        Name = name;
        LibraryPath = path;
        _api = api;
    }

    /// <summary>Backend name as reported by the library ("cpu", "simt", "cuda").</summary>
    public string Name { get; }

    /// <summary>Where the library was loaded from.</summary>
    public string LibraryPath { get; }

    internal ApiTable* Api => _api;

    /// <summary>Loads (once) the backend called <paramref name="name"/>.</summary>
    /// <exception cref="BackendException">The library is missing or speaks another ABI version.</exception>
    public static Backend Load(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        lock (LoadLock)
        {
            if (Loaded.TryGetValue(name, out var existing))
                return existing;
            var backend = LoadLibrary(name);
            Loaded[name] = backend;
            return backend;
        }
    }

    /// <summary>Whether the backend's library can be found (it is not loaded by this call).</summary>
    public static bool IsAvailable(string name) => FindLibrary(name, out _) is not null;

    private static Backend LoadLibrary(string name)
    {
        string? path = FindLibrary(name, out var searched);
        if (path is null)
        {
            throw new BackendException(
                $"backend '{name}' not found: looked for {LibraryFileName(name)} in {string.Join(", ", searched)}. " +
                $"Build it with ./build.sh or set {NativeDirVariable}.");
        }

        nint handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (DllNotFoundException e)
        {
            throw new BackendException($"backend '{name}': cannot load {path}: {e.Message}", e);
        }

        if (!NativeLibrary.TryGetExport(handle, "pg_get_api", out nint getApi))
            throw new BackendException($"backend '{name}': {path} does not export pg_get_api");

        var api = ((delegate* unmanaged[Cdecl]<uint, ApiTable*>)getApi)(AbiVersion);
        if (api == null)
            throw new BackendException($"backend '{name}': {path} does not support ABI version {AbiVersion}");
        if (api->AbiVersion != AbiVersion || api->StructSize < (uint)sizeof(ApiTable))
        {
            throw new BackendException(
                $"backend '{name}': {path} has ABI {api->AbiVersion} with a {api->StructSize}-byte table; " +
                $"this host needs ABI {AbiVersion} with {sizeof(ApiTable)} bytes");
        }

        string reported = Marshal.PtrToStringUTF8((nint)api->BackendName) ?? name;
        return new Backend(reported, path, api);
    }

    private static string LibraryFileName(string name) =>
        OperatingSystem.IsWindows() ? $"paged_{name}.dll"
        : OperatingSystem.IsMacOS() ? $"libpaged_{name}.dylib"
        : $"libpaged_{name}.so";

    private static string PortableRid()
    {
        string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        return $"{os}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
    }

    private static string? FindLibrary(string name, out List<string> searched)
    {
        searched = [];
        string file = LibraryFileName(name);
        string? env = Environment.GetEnvironmentVariable(NativeDirVariable);
        if (!string.IsNullOrEmpty(env))
            searched.Add(env);
        searched.Add(AppContext.BaseDirectory);
        // From a NuGet package the library sits in runtimes/<rid>/native: the host lists those folders.
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string nativeDirs)
        {
            foreach (string dir in nativeDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                if (!searched.Contains(dir))
                    searched.Add(dir);
            }
        }

        searched.Add(Path.Combine(AppContext.BaseDirectory, "runtimes", PortableRid(), "native"));
        foreach (string dir in searched)
        {
            string candidate = Path.Combine(dir, file);
            if (File.Exists(candidate))
                return candidate;
        }

        return null;
    }

    /// <summary>Throws a <see cref="BackendException"/> carrying the native message unless <paramref name="status"/> is Ok.</summary>
    internal void Check(Status status, string operation)
    {
        if (status != Status.Ok)
            throw new BackendException(status, $"{Name}.{operation}", LastError());
    }

    internal string LastError() => Marshal.PtrToStringUTF8((nint)_api->LastError()) ?? "";

    /// <summary>Every (struct, field) offset and size the native library was compiled with.</summary>
    public IReadOnlyList<NativeFieldLayout> DescribeLayouts()
    {
        FieldLayout* entries;
        int count;
        Check(_api->DescribeLayouts(&entries, &count), "describe_layouts");
        var result = new List<NativeFieldLayout>(count);
        for (int i = 0; i < count; i++)
        {
            result.Add(new NativeFieldLayout(
                Marshal.PtrToStringUTF8((nint)entries[i].StructName) ?? "",
                entries[i].FieldName == null ? null : Marshal.PtrToStringUTF8((nint)entries[i].FieldName),
                (int)entries[i].Offset,
                (int)entries[i].Size));
        }

        return result;
    }

    /// <summary>Creates a context (device, stream, worker threads) on this backend.</summary>
    public DeviceContext CreateContext(int numThreads = 0, int deviceIndex = 0) =>
        new(this, new ContextOptions { NumThreads = numThreads, DeviceIndex = deviceIndex });
}

/// <summary>One field (or, with a null field name, a whole struct) as laid out by the native compiler.</summary>
public sealed record NativeFieldLayout(string Struct, string? Field, int Offset, int Size);
