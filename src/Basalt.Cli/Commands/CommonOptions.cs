using System.CommandLine;

namespace Basalt.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    /// <summary>Path of basalt.yaml; defaults to $BASALT_CONFIG, then ./basalt.yaml.</summary>
    public static Option<string?> Config() => new("--config", "-c")
    {
        Description = "Path of basalt.yaml (default: $BASALT_CONFIG, then ./basalt.yaml).",
    };

    /// <summary>Resolves the config path from the option, the environment, or the working directory.</summary>
    public static string? ResolveConfigPath(string? option)
    {
        if (option is not null)
            return option;
        var env = Environment.GetEnvironmentVariable("BASALT_CONFIG");
        if (!string.IsNullOrEmpty(env))
            return env;
        return File.Exists("basalt.yaml") ? "basalt.yaml" : null;
    }
}
