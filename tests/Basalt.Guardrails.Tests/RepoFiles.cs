namespace Basalt.Guardrails.Tests;

/// <summary>Files of this repository (data/...), found by walking up from the test binaries to Basalt.slnx.</summary>
internal static class RepoFiles
{
    public static string Path(string relative)
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Basalt.slnx")))
                return System.IO.Path.Combine(dir.FullName, relative);
        }
        throw new InvalidOperationException("Basalt.slnx not found above " + AppContext.BaseDirectory);
    }
}
