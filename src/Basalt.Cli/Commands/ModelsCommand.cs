using System.CommandLine;
using System.Globalization;
using Basalt.Core.Catalog;
using Basalt.Engine.Store;

namespace Basalt.Cli.Commands;

/// <summary>`basalt models list|show|rm`: the models pulled into the model store.</summary>
internal static class ModelsCommand
{
    /// <summary>--models-dir, shared by pull and models.</summary>
    public static Option<string?> ModelsDirOption() => new("--models-dir")
    {
        Description = $"Model store directory (default: ${ModelStore.DirectoryVariable}, then DATA_DIR/models: server.dataDir of basalt.yaml, default ./data).",
    };

    /// <summary>The models directory from the option, $BASALT_MODELS, or DATA_DIR/models where DATA_DIR is basalt.yaml's
    /// server.dataDir (so `basalt serve` finds what `basalt pull` stored); throws InvalidDataException for a malformed basalt.yaml.</summary>
    public static string Directory(string? option)
    {
        if (!string.IsNullOrWhiteSpace(option) || !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ModelStore.DirectoryVariable)))
            return ModelStore.ResolveDirectory(option);
        return ModelStore.ResolveDirectory(null, ConfigLoader.LoadFile(CommonOptions.ResolveConfigPath(null)).Server.DataDir);
    }

    public static Command Create()
    {
        var dir = ModelsDirOption();
        var list = new Command("list", "List pulled models.") { dir };
        list.SetAction(parse => Run(parse, dir, (store, output) => List(store, output)));

        var showName = new Argument<string>("name") { Description = "A name from `basalt models list`." };
        var show = new Command("show", "Show a pulled model's source, file and GGUF summary.") { showName, dir };
        show.SetAction(parse => Run(parse, dir, (store, output) => Show(store, parse.GetRequiredValue(showName), output, parse.InvocationConfiguration.Error)));

        var rmName = new Argument<string>("name") { Description = "A name from `basalt models list`." };
        var rm = new Command("rm", "Delete a pulled model's file and index entry.") { rmName, dir };
        rm.SetAction(parse => Run(parse, dir, (store, output) => Remove(store, parse.GetRequiredValue(rmName), output, parse.InvocationConfiguration.Error)));

        return new Command("models", "Manage the models pulled with `basalt pull`.") { list, show, rm };
    }

    private static int Run(ParseResult parse, Option<string?> dir, Func<ModelStore, TextWriter, int> action)
    {
        try
        {
            return action(new ModelStore(Directory(parse.GetValue(dir))), parse.InvocationConfiguration.Output);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    internal static int List(ModelStore store, TextWriter output)
    {
        var models = store.List();
        if (models.Count == 0)
        {
            output.WriteLine($"no models in {store.Directory}; pull one with: basalt pull OWNER/REPO[:FILE.gguf]");
            return 0;
        }
        int name = 4, quant = 5, arch = 4;
        foreach (var m in models)
        {
            name = Math.Max(name, m.Name.Length);
            quant = Math.Max(quant, m.Quantization.Length);
            arch = Math.Max(arch, m.Architecture.Length);
        }
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"{"NAME".PadRight(name)}  {"SIZE",10}  {"QUANT".PadRight(quant)}  {"ARCH".PadRight(arch)}  PATH"));
        foreach (var m in models)
            output.WriteLine(string.Create(inv, $"{m.Name.PadRight(name)}  {PullCommand.Bytes(m.Size),10}  {m.Quantization.PadRight(quant)}  {m.Architecture.PadRight(arch)}  {m.Path}"));
        return 0;
    }

    internal static int Show(ModelStore store, string name, TextWriter output, TextWriter error)
    {
        if (store.Find(name) is not { } m)
            return Unknown(store, name, error);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"name:          {m.Name}");
        output.WriteLine($"source:        {(m.Source.Length > 0 ? m.Source : "(local file)")}");
        output.WriteLine($"path:          {m.Path}{(File.Exists(m.Path) ? "" : "  (MISSING: pull it again or rm it)")}");
        output.WriteLine(string.Create(inv, $"size:          {PullCommand.Bytes(m.Size)} ({m.Size} bytes)"));
        output.WriteLine($"sha256:        {m.Sha256}");
        output.WriteLine($"pulled at:     {m.PulledAt.ToString("u", inv)}");
        output.WriteLine($"architecture:  {m.Architecture}");
        output.WriteLine(string.Create(inv, $"parameters:    {m.Parameters:N0}"));
        output.WriteLine($"quantization:  {m.Quantization}");
        return 0;
    }

    internal static int Remove(ModelStore store, string name, TextWriter output, TextWriter error)
    {
        if (store.Remove(name) is not { } m)
            return Unknown(store, name, error);
        output.WriteLine($"removed {m.Name} ({m.Path})");
        return 0;
    }

    private static int Unknown(ModelStore store, string name, TextWriter error)
    {
        error.WriteLine($"error: no model named '{name}' in {store.Directory}; see `basalt models list`.");
        return 1;
    }
}
