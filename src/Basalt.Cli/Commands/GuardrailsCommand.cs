using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Guardrails;
using Basalt.Server.Guardrails;
using Basalt.Server.State;
using YamlDotNet.RepresentationModel;

namespace Basalt.Cli.Commands;

/// <summary>`basalt guardrails create|list|show|update|version|delete|apply`: manages guardrails directly in the data
/// directory's state store (as `basalt keys` does); a running server sees changes on its next request.</summary>
internal static class GuardrailsCommand
{
    public static Command Create()
    {
        var command = new Command("guardrails", "Create, list, show, version, delete and try guardrails.");
        command.Subcommands.Add(CreateCommand());
        command.Subcommands.Add(ListCommand());
        command.Subcommands.Add(ShowCommand());
        command.Subcommands.Add(UpdateCommand());
        command.Subcommands.Add(VersionCommand());
        command.Subcommands.Add(DeleteCommand());
        command.Subcommands.Add(ApplyCommand());
        return command;
    }

    private static Command CreateCommand()
    {
        var (config, dataDir) = StoreOptions();
        var file = FileOption();
        var command = new Command("create", "Create a guardrail from a YAML or JSON file shaped like Bedrock's CreateGuardrail request.") { config, dataDir, file };
        command.SetAction(async (parse, ct) => await WithRegistryAsync(parse, config, dataDir, async registry =>
        {
            var spec = GuardrailSpecJson.Read(ReadDefinition(parse.GetValue(file)!));
            var row = await registry.CreateAsync(spec, ct);
            parse.InvocationConfiguration.Output.WriteLine($"Created guardrail '{row.Name}' {row.Id} ({GuardrailRegistry.Arn(row.Id)}), version DRAFT.");
            return 0;
        }));
        return command;
    }

    private static Command UpdateCommand()
    {
        var (config, dataDir) = StoreOptions();
        var file = FileOption();
        var id = IdArgument();
        var command = new Command("update", "Replace a guardrail's DRAFT with the configuration in a YAML or JSON file.") { config, dataDir, id, file };
        command.SetAction(async (parse, ct) => await WithRegistryAsync(parse, config, dataDir, async registry =>
        {
            var spec = GuardrailSpecJson.Read(ReadDefinition(parse.GetValue(file)!));
            var row = await registry.UpdateAsync(parse.GetValue(id)!, spec, ct);
            parse.InvocationConfiguration.Output.WriteLine($"Updated the DRAFT of guardrail '{row.Name}' {row.Id}.");
            return 0;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var (config, dataDir) = StoreOptions();
        var id = new Argument<string?>("ID") { Description = "List the versions of this guardrail instead of every guardrail.", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print JSON lines." };
        var command = new Command("list", "List guardrails, or the versions of one.") { config, dataDir, id, json };
        command.SetAction(async (parse, ct) => await WithRegistryAsync(parse, config, dataDir, async registry =>
        {
            var rows = await registry.ListAsync(parse.GetValue(id), ct);
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                foreach (var r in rows)
                    output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                    {
                        ["id"] = r.Id, ["arn"] = GuardrailRegistry.Arn(r.Id), ["name"] = r.Name, ["version"] = Basalt.Guardrails.Resources.GuardrailVersions.Format(r.Version),
                        ["description"] = r.Description, ["createdAt"] = r.CreatedAt, ["updatedAt"] = r.UpdatedAt,
                    }));
                return 0;
            }
            if (rows.Count == 0)
            {
                output.WriteLine("No guardrails. Create one with `basalt guardrails create --file guardrail.yaml`.");
                return 0;
            }
            output.WriteLine($"{"ID",-14} {"NAME",-30} {"VERSION",-8} {"UPDATED",-24} DESCRIPTION");
            foreach (var r in rows)
                output.WriteLine($"{r.Id,-14} {r.Name,-30} {Basalt.Guardrails.Resources.GuardrailVersions.Format(r.Version),-8} {GuardrailEndpoints.Time(r.UpdatedAt),-24} {r.Description}");
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var (config, dataDir) = StoreOptions();
        var id = IdArgument();
        var version = VersionOption("Version to show (default DRAFT).");
        var command = new Command("show", "Print a guardrail version as GetGuardrail JSON.") { config, dataDir, id, version };
        command.SetAction(async (parse, ct) => await WithRegistryAsync(parse, config, dataDir, async registry =>
        {
            var row = await registry.GetAsync(parse.GetValue(id)!, parse.GetValue(version), ct);
            parse.InvocationConfiguration.Output.WriteLine(Json(w => GuardrailEndpoints.WriteGuardrail(w, row)));
            return 0;
        }));
        return command;
    }

    private static Command VersionCommand()
    {
        var (config, dataDir) = StoreOptions();
        var id = IdArgument();
        var description = new Option<string?>("--description") { Description = "Description of the new version." };
        var command = new Command("version", "Freeze the DRAFT as the next numbered, immutable version.") { config, dataDir, id, description };
        command.SetAction(async (parse, ct) => await WithRegistryAsync(parse, config, dataDir, async registry =>
        {
            var row = await registry.CreateVersionAsync(parse.GetValue(id)!, parse.GetValue(description), ct);
            parse.InvocationConfiguration.Output.WriteLine($"Created version {row.Version} of guardrail '{row.Name}' {row.Id}.");
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var (config, dataDir) = StoreOptions();
        var id = IdArgument();
        var version = VersionOption("Delete only this numbered version (default: the whole guardrail).");
        var command = new Command("delete", "Delete a guardrail, or one of its numbered versions.") { config, dataDir, id, version };
        command.SetAction(async (parse, ct) => await WithRegistryAsync(parse, config, dataDir, async registry =>
        {
            var v = parse.GetValue(version);
            await registry.DeleteAsync(parse.GetValue(id)!, v, ct);
            parse.InvocationConfiguration.Output.WriteLine(v is null ? $"Deleted guardrail {parse.GetValue(id)}." : $"Deleted version {v} of guardrail {parse.GetValue(id)}.");
            return 0;
        }));
        return command;
    }

    private static Command ApplyCommand()
    {
        var (config, dataDir) = StoreOptions();
        var id = IdArgument();
        var version = VersionOption("Version to apply (default DRAFT).");
        var source = new Option<string>("--source") { Description = "INPUT (text going to a model) or OUTPUT (a model's answer).", DefaultValueFactory = _ => "INPUT" };
        source.AcceptOnlyFromAmong("INPUT", "OUTPUT");
        var text = new Option<string?>("--text") { Description = "The text to assess (default: read standard input)." };
        var full = new Option<bool>("--full") { Description = "Report every finding (outputScope FULL), not only those that acted." };
        var command = new Command("apply", "Apply a guardrail to a text in this process and print the ApplyGuardrail response JSON.") { config, dataDir, id, version, source, text, full };
        command.SetAction(async (parse, ct) => await WithRegistryAsync(parse, config, dataDir, async registry =>
        {
            var input = parse.GetValue(text) ?? await Console.In.ReadToEndAsync(ct);
            var (row, policies) = await registry.ResolveAsync(parse.GetValue(id)!, parse.GetValue(version) ?? "DRAFT", ct);
            var outcome = GuardrailEngine.Apply(policies, parse.GetValue(source) == "OUTPUT" ? GuardrailSource.Output : GuardrailSource.Input,
                [new GuardrailTextUnit(input)], parse.GetValue(full));
            parse.InvocationConfiguration.Output.WriteLine(Json(w => GuardrailAssessmentJson.WriteApplyResponse(w, outcome, row.Id, Basalt.Guardrails.Resources.GuardrailVersions.Format(row.Version))));
            return outcome.Intervened ? 3 : 0;
        }));
        return command;
    }

    /// <summary>Reads a YAML or JSON guardrail file into the JSON CreateGuardrail accepts (YAML is a superset of JSON: a
    /// .json file or one starting with '{' is read as JSON, anything else as YAML).</summary>
    internal static JsonElement ReadDefinition(string path)
    {
        if (!File.Exists(path))
            throw new BasaltException(ErrorKind.Validation, $"no file {path}.");
        var text = File.ReadAllText(path);
        try
        {
            if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || text.TrimStart().StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(text);
                return doc.RootElement.Clone();
            }
            return YamlToJson(text);
        }
        catch (Exception e) when (e is JsonException or YamlDotNet.Core.YamlException)
        {
            throw new BasaltException(ErrorKind.Validation, $"{path} is not valid {(e is JsonException ? "JSON" : "YAML")}: {e.Message}");
        }
    }

    /// <summary>Converts YAML to JSON; plain (unquoted) scalars that read as numbers, booleans or null become those.</summary>
    internal static JsonElement YamlToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        if (stream.Documents.Count == 0)
            throw new BasaltException(ErrorKind.Validation, "the guardrail file is empty.");
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
            Write(w, stream.Documents[0].RootNode);
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.Clone();
    }

    private static void Write(Utf8JsonWriter w, YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                w.WriteStartObject();
                foreach (var (k, v) in map.Children)
                {
                    w.WritePropertyName(((YamlScalarNode)k).Value ?? "");
                    Write(w, v);
                }
                w.WriteEndObject();
                break;
            case YamlSequenceNode seq:
                w.WriteStartArray();
                foreach (var item in seq.Children)
                    Write(w, item);
                w.WriteEndArray();
                break;
            case YamlScalarNode s:
                var value = s.Value ?? "";
                if (s.Style != YamlDotNet.Core.ScalarStyle.Plain)
                    w.WriteStringValue(value);
                else if (value is "true" or "false")
                    w.WriteBooleanValue(value == "true");
                else if (value is "null" or "~" or "")
                    w.WriteNullValue();
                else if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                    w.WriteNumberValue(d);
                else
                    w.WriteStringValue(value);
                break;
        }
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(w);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static Option<string> FileOption() => new("--file", "-f") { Description = "A YAML or JSON file shaped like Bedrock's CreateGuardrail request (see docs/guardrails.md).", Required = true };

    private static Argument<string> IdArgument() => new("ID") { Description = "The guardrail's id or ARN." };

    private static Option<string?> VersionOption(string description) => new("--version") { Description = description };

    private static (Option<string?> Config, Option<string?> DataDir) StoreOptions()
        => (CommonOptions.Config(), new Option<string?>("--data-dir") { Description = "Directory of the state store (default: server.dataDir of the config, then ./data)." });

    private static async Task<int> WithRegistryAsync(ParseResult parse, Option<string?> config, Option<string?> dataDir, Func<GuardrailRegistry, Task<int>> action)
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
        try
        {
            return await action(new GuardrailRegistry(store, new GuardrailEngine()));
        }
        catch (BasaltException e)
        {
            parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
            return e.Kind == ErrorKind.ResourceNotFound ? 1 : 2;
        }
    }
}
