using System.CommandLine;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Server.Auth;
using Basalt.Server.State;

namespace Basalt.Cli.Commands;

/// <summary>`basalt keys create|list|revoke`: manages API keys directly in the data directory's state store.</summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var command = new Command("keys", "Create, list and revoke API keys.");
        command.Subcommands.Add(CreateCommand());
        command.Subcommands.Add(ListCommand());
        command.Subcommands.Add(RevokeCommand());
        return command;
    }

    private static Command CreateCommand()
    {
        var (config, dataDir) = StoreOptions();
        var name = new Option<string>("--name") { Description = "Name of the key (unique among active keys).", Required = true };
        var aws = new Option<bool>("--aws") { Description = "Create an AWS access key id and secret access key (Signature V4) instead of a Bearer key." };
        var models = new Option<string?>("--models") { Description = "Comma-separated model ids or aliases the key may call (default: all)." };
        var expires = new Option<string?>("--expires-in") { Description = "Lifetime, for example 30d, 12h, 2w, 1y (default: never expires)." };
        var json = new Option<bool>("--json") { Description = "Print the key as JSON." };
        var command = new Command("create", "Create a key and print its secret (shown only once).") { config, dataDir, name, aws, models, expires, json };
        command.SetAction(async (parse, ct) =>
        {
            TimeSpan? lifetime = null;
            try
            {
                if (parse.GetValue(expires) is { } e)
                    lifetime = KeyLifetime.Parse(e);
            }
            catch (ArgumentException ex)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {ex.Message}");
                return 2;
            }
            return await WithKeysAsync(parse, config, dataDir, async keys =>
            {
                var allowed = parse.GetValue(models)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                IssuedKey issued;
                try
                {
                    issued = await keys.CreateAsync(parse.GetValue(name)!, parse.GetValue(aws), allowed, lifetime, ct);
                }
                catch (Exception ex) when (ex is ArgumentException or DuplicateKeyNameException)
                {
                    parse.InvocationConfiguration.Error.WriteLine($"error: {ex.Message}");
                    return 2;
                }
                var r = issued.Record;
                if (parse.GetValue(json))
                {
                    var doc = new Dictionary<string, object?>
                    {
                        ["id"] = r.Id, ["name"] = r.Name, ["kind"] = r.Kind == ApiKeyKind.Aws ? "aws" : "bearer",
                        ["models"] = r.AllowedModels, ["createdAt"] = r.CreatedAt, ["expiresAt"] = r.ExpiresAt,
                    };
                    if (r.Kind == ApiKeyKind.Aws)
                    {
                        doc["accessKeyId"] = r.AccessKeyId;
                        doc["secretAccessKey"] = issued.Secret;
                    }
                    else
                    {
                        doc["key"] = issued.Secret;
                    }
                    parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(doc));
                }
                else if (r.Kind == ApiKeyKind.Aws)
                {
                    parse.InvocationConfiguration.Output.WriteLine($"Created AWS key '{r.Name}' ({r.Id}). The secret is shown only now:");
                    parse.InvocationConfiguration.Output.WriteLine($"AWS_ACCESS_KEY_ID={r.AccessKeyId}");
                    parse.InvocationConfiguration.Output.WriteLine($"AWS_SECRET_ACCESS_KEY={issued.Secret}");
                }
                else
                {
                    parse.InvocationConfiguration.Output.WriteLine($"Created key '{r.Name}' ({r.Id}). The secret is shown only now:");
                    parse.InvocationConfiguration.Output.WriteLine(issued.Secret);
                }
                return 0;
            });
        });
        return command;
    }

    private static Command ListCommand()
    {
        var (config, dataDir) = StoreOptions();
        var json = new Option<bool>("--json") { Description = "Print the keys as JSON lines." };
        var command = new Command("list", "List keys (never their secrets).") { config, dataDir, json };
        command.SetAction(async (parse, ct) => await WithKeysAsync(parse, config, dataDir, async keys =>
        {
            var all = await keys.Store.ListKeysAsync(ct);
            var now = DateTimeOffset.UtcNow;
            if (parse.GetValue(json))
            {
                foreach (var k in all)
                    parse.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                    {
                        ["id"] = k.Id, ["name"] = k.Name, ["kind"] = k.Kind == ApiKeyKind.Aws ? "aws" : "bearer", ["accessKeyId"] = k.AccessKeyId,
                        ["models"] = k.AllowedModels, ["createdAt"] = k.CreatedAt, ["lastUsedAt"] = k.LastUsedAt, ["expiresAt"] = k.ExpiresAt,
                        ["status"] = Status(k, now),
                    }));
                return 0;
            }
            if (all.Count == 0)
            {
                parse.InvocationConfiguration.Output.WriteLine("No keys. Create one with `basalt keys create --name NAME`.");
                return 0;
            }
            parse.InvocationConfiguration.Output.WriteLine($"{"ID",-20} {"NAME",-24} {"KIND",-6} {"ACCESS KEY ID",-20} {"STATUS",-8} {"CREATED",-20} {"LAST USED",-20} {"EXPIRES",-20} MODELS");
            foreach (var k in all)
                parse.InvocationConfiguration.Output.WriteLine($"{k.Id,-20} {k.Name,-24} {(k.Kind == ApiKeyKind.Aws ? "aws" : "bearer"),-6} {k.AccessKeyId ?? "-",-20} {Status(k, now),-8} {Time(k.CreatedAt),-20} {Time(k.LastUsedAt),-20} {Time(k.ExpiresAt),-20} {(k.AllowedModels.Count == 0 ? "*" : string.Join(',', k.AllowedModels))}");
            return 0;
        }));
        return command;
    }

    private static Command RevokeCommand()
    {
        var (config, dataDir) = StoreOptions();
        var key = new Argument<string>("NAME|ID") { Description = "Name, id or AWS access key id of the key." };
        var command = new Command("revoke", "Revoke a key; requests with it are refused from then on.") { config, dataDir, key };
        command.SetAction(async (parse, ct) => await WithKeysAsync(parse, config, dataDir, async keys =>
        {
            var target = parse.GetValue(key)!;
            var revoked = await keys.Store.RevokeKeyAsync(target, DateTimeOffset.UtcNow, ct);
            if (revoked is null)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: no key named '{target}' or with that id; see `basalt keys list`.");
                return 1;
            }
            parse.InvocationConfiguration.Output.WriteLine($"Revoked key '{revoked.Name}' ({revoked.Id}).");
            return 0;
        }));
        return command;
    }

    private static (Option<string?> Config, Option<string?> DataDir) StoreOptions()
        => (CommonOptions.Config(), new Option<string?>("--data-dir") { Description = "Directory of the state store (default: server.dataDir of the config, then ./data)." });

    private static async Task<int> WithKeysAsync(ParseResult parse, Option<string?> config, Option<string?> dataDir, Func<ApiKeys, Task<int>> action)
    {
        BasaltConfig cfg;
        try
        {
            cfg = ConfigLoader.LoadFile(CommonOptions.ResolveConfigPath(parse.GetValue(config)));
        }
        catch (InvalidDataException e)
        {
            parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        var dir = parse.GetValue(dataDir) ?? cfg.Server.DataDir;
        using var store = await StateStore.OpenAsync(cfg.Server with { DataDir = dir });
        return await action(ApiKeys.Open(store, dir));
    }

    private static string Status(ApiKeyRecord k, DateTimeOffset now) => k.IsRevoked ? "revoked" : k.IsExpiredAt(now) ? "expired" : "active";

    private static string Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) ?? "-";
}
