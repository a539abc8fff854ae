namespace Paged.Models.Tests;

/// <summary>Locates ../shared (models, golden outputs) relative to the repository holding Kernels.sln.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> SharedDir = new(FindShared);

    public static string Shared => SharedDir.Value;
    public static string ModelDir => Path.Combine(Shared, "models", "stories260K");
    public static string Bin => Path.Combine(ModelDir, "stories260K.bin");
    public static string Gguf => Path.Combine(ModelDir, "stories260K.gguf");
    public static string Tok512 => Path.Combine(ModelDir, "tok512.bin");
    public static string Golden => Path.Combine(Shared, "golden", "stories260K_greedy.jsonl");
    public static string HfTiny => Path.Combine(Shared, "models", "hf-tiny");

    private static string FindShared()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                return Directory.Exists(shared)
                    ? shared
                    : throw new InvalidOperationException($"test data directory {shared} (../shared next to the repository {dir.FullName}) is missing");
            }
        }

        throw new InvalidOperationException($"no directory containing Kernels.sln above {AppContext.BaseDirectory}; cannot find ../shared");
    }
}

/// <summary>A unique temporary directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "paged-models-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
