namespace Paged.Engine.Tests;

/// <summary>Finds ../shared (models and golden outputs) beside the repository checkout.</summary>
internal static class SharedFiles
{
    public static string Root { get; } = FindShared();

    public static string Stories260KBin => Path.Combine(Root, "models", "stories260K", "stories260K.bin");

    public static string Stories260KGguf => Path.Combine(Root, "models", "stories260K", "stories260K.gguf");

    public static string Tok512 => Path.Combine(Root, "models", "stories260K", "tok512.bin");

    public static string GoldenGreedy => Path.Combine(Root, "golden", "stories260K_greedy.jsonl");

    private static string FindShared()
    {
        // A machine without the checkout layout (tools/gpu_check.sh on a GPU machine) names it.
        if (Environment.GetEnvironmentVariable("PAGED_SHARED_DIR") is { Length: > 0 } named)
            return Path.GetFullPath(named);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                if (!Directory.Exists(shared))
                    throw new DirectoryNotFoundException($"../shared is missing beside the checkout {dir.FullName}");
                return shared;
            }
        }

        throw new DirectoryNotFoundException($"no Kernels.sln above {AppContext.BaseDirectory}");
    }
}
