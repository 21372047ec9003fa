using System.CommandLine;
using Basalt.Core.Catalog;
using Basalt.Engine.Store;
using Basalt.Server;
using Basalt.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Hosting;

namespace Basalt.Cli.Commands;

/// <summary>`basalt serve`: runs the HTTP server.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var listen = new Option<string?>("--listen") { Description = $"host:port to listen on (default {ServerConfig.DefaultListen})." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory for state (default ./data)." };
        var models = new Option<string[]>("--model")
        {
            Description = "Serve a local GGUF model: NAME=PATH.gguf or NAME=PULLED_MODEL (a name from `basalt models list`; repeatable); adds a \"local\" provider when none is configured.",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("serve", "Run the Basalt API server.") { config, listen, dataDir, models };
        command.SetAction(async (parse, ct) =>
        {
            BasaltConfig cfg;
            try
            {
                cfg = ConfigLoader.LoadFile(CommonOptions.ResolveConfigPath(parse.GetValue(config)));
                var store = new ModelStore(ModelStore.ResolveDirectory(null, parse.GetValue(dataDir) ?? cfg.Server.DataDir));
                cfg = AddLocalModels(cfg, parse.GetValue(models) ?? [], store);
            }
            catch (InvalidDataException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
            var server = cfg.Server;
            if (parse.GetValue(listen) is { } l)
                server = server with { Listen = l };
            if (parse.GetValue(dataDir) is { } d)
                server = server with { DataDir = d };
            cfg = cfg with { Server = server };
            WebApplication app;
            try
            {
                app = BasaltServer.Build(cfg);
            }
            catch (InvalidDataException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
            await using var _ = app;
            if (await BootstrapKeysAsync(app, cfg, parse.InvocationConfiguration.Error, ct) is { } refusal)
                return refusal;
            await app.StartAsync(ct);
            await app.WaitForShutdownAsync(ct);
            return 0;
        });
        return command;
    }

    /// <summary>Creates the admin key on loopback when there is no key; returns an exit code when the server must not start.</summary>
    internal static async Task<int?> BootstrapKeysAsync(WebApplication app, BasaltConfig cfg, TextWriter error, CancellationToken ct)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Basalt.Serve");
        var outcome = await AdminKey.EnsureAsync(app.Services.GetRequiredService<ApiKeys>(), cfg.Server.Listen, cfg.Server.DataDir, logger, ct);
        if (outcome.Refusal is not null)
        {
            error.WriteLine($"error: {outcome.Refusal}");
            return 2;
        }
        return null;
    }

    /// <summary>Name of the provider instance that --model entries use when the config has no local provider.</summary>
    public const string DefaultLocalProvider = "local";

    /// <summary>Adds one catalog entry per NAME=PATH spec, served by the config's first local provider (or a new "local" one).</summary>
    internal static BasaltConfig AddLocalModels(BasaltConfig cfg, IReadOnlyList<string> specs, ModelStore? store = null)
    {
        if (specs.Count == 0)
            return cfg;
        var providers = new Dictionary<string, ProviderConfig>(cfg.Providers, StringComparer.Ordinal);
        string? providerName = null;
        foreach (var (name, p) in providers)
            if (string.Equals(p.Type, "local", StringComparison.OrdinalIgnoreCase)) { providerName = name; break; }
        if (providerName is null)
        {
            if (providers.ContainsKey(DefaultLocalProvider))
                throw new InvalidDataException($"--model: the provider name '{DefaultLocalProvider}' is taken by a provider of another type; add a local provider to the config.");
            providerName = DefaultLocalProvider;
            providers[providerName] = new ProviderConfig { Type = "local" };
        }
        var models = new List<ModelEntry>(cfg.Models);
        foreach (var spec in specs)
        {
            var eq = spec.IndexOf('=');
            if (eq <= 0 || eq == spec.Length - 1)
                throw new InvalidDataException($"--model '{spec}': expected NAME=PATH.gguf, for example --model tiny=./models/stories260K.gguf.");
            var name = spec[..eq].Trim();
            var value = spec[(eq + 1)..].Trim();
            var path = Path.GetFullPath(value);
            if (!File.Exists(path))
                path = store?.Resolve(value)
                    ?? throw new InvalidDataException($"--model {name}: the file {path} does not exist, and no pulled model is named '{value}' (see `basalt models list`).");
            models.Add(new ModelEntry { Id = name, Provider = providerName, Path = path, DisplayName = Path.GetFileNameWithoutExtension(path), ProviderName = "local" });
        }
        return ConfigLoader.Validate(cfg with { Providers = providers, Models = models }, "--model");
    }
}
