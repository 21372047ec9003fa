namespace Basalt.Tests.Common;

/// <summary>Locates ../shared (read-only models, golden outputs, specs) beside the project root.</summary>
internal static class SharedFiles
{
    /// <summary>The shared folder, or null when it is absent.</summary>
    public static string? Root { get; } = Find();

    /// <summary>True in CI, where ../shared must exist and tests may not skip for its absence.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Path of a file under shared/, or null when shared/ is absent outside CI (the caller then returns early, saying so).
    /// In CI a missing file fails the test.</summary>
    public static string? Path(string relative)
    {
        if (Root is null)
        {
            if (InCi)
                throw new InvalidOperationException("CI=true but ../shared was not found beside the project root.");
            Console.WriteLine($"SKIPPED (no ../shared outside CI): {relative}");
            return null;
        }
        var full = System.IO.Path.Combine(Root, relative);
        if (!File.Exists(full) && !Directory.Exists(full))
            throw new FileNotFoundException($"../shared/{relative} is missing.", full);
        return full;
    }

    /// <summary>The project root (the folder holding Basalt.slnx).</summary>
    public static string ProjectRoot { get; } = FindProjectRoot();

    private static string FindProjectRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Basalt.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Basalt.slnx not found above " + AppContext.BaseDirectory);
    }

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("BASALT_SHARED");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env))
            return env;
        var candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(FindProjectRoot(), "..", "shared"));
        return Directory.Exists(candidate) ? candidate : null;
    }
}
