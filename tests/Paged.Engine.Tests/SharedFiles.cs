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
