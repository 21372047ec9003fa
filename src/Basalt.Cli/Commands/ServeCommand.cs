using System.CommandLine;
using Basalt.Core.Catalog;
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
        var command = new Command("serve", "Run the Basalt API server.") { config, listen, dataDir };
        command.SetAction(async (parse, ct) =>
        {
            BasaltConfig cfg;
            try
            {
                cfg = ConfigLoader.LoadFile(CommonOptions.ResolveConfigPath(parse.GetValue(config)));
            }
            catch (InvalidDataException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
            var server = cfg.Server;
            if (parse.GetValue(listen) is { } l)
                server = server with { Listen = l };
            if (parse.GetValue(dataDir) is { } d)
                server = server with { DataDir = d };
            cfg = cfg with { Server = server };
            await using var app = BasaltServer.Build(cfg);
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
}
