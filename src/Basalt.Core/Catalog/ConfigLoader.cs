using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Basalt.Core.Catalog;

/// <summary>Reads and validates basalt.yaml.</summary>
public static class ConfigLoader
{
    /// <summary>Largest config file read, in bytes.</summary>
    public const int MaxConfigBytes = 4 * 1024 * 1024;

    /// <summary>Loads a config file; a missing file gives the defaults.</summary>
    public static BasaltConfig LoadFile(string? path)
    {
        if (path is null || !File.Exists(path))
            return Validate(new BasaltConfig());
        var info = new FileInfo(path);
        if (info.Length > MaxConfigBytes)
            throw new InvalidDataException($"{path}: config file is {info.Length} bytes; the limit is {MaxConfigBytes}.");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates YAML text; <paramref name="source"/> names it in errors.</summary>
    public static BasaltConfig Parse(string yaml, string source = "basalt.yaml")
    {
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .WithTypeMapping<IReadOnlyList<string>, List<string>>()
            .Build();
        ConfigDocument? doc;
        try
        {
            doc = deserializer.Deserialize<ConfigDocument>(yaml);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidDataException($"{source}: {e.Message} (line {e.Start.Line}, column {e.Start.Column}).", e);
        }
        doc ??= new ConfigDocument();
        var config = new BasaltConfig
        {
            Server = doc.Server ?? new ServerConfig(),
            Providers = doc.Providers ?? new Dictionary<string, ProviderConfig>(),
            Models = doc.Models ?? [],
        };
        return Validate(config, source);
    }

    /// <summary>Checks references and required fields; throws with a message naming the field.</summary>
    public static BasaltConfig Validate(BasaltConfig config, string source = "basalt.yaml")
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Models.Count; i++)
        {
            var m = config.Models[i];
            if (string.IsNullOrWhiteSpace(m.Id))
                throw new InvalidDataException($"{source}: models[{i}].id is required.");
            if (string.IsNullOrWhiteSpace(m.Provider))
                throw new InvalidDataException($"{source}: models[{i}] ({m.Id}): provider is required.");
            if (!config.Providers.ContainsKey(m.Provider))
                throw new InvalidDataException($"{source}: models[{i}] ({m.Id}): provider '{m.Provider}' is not defined under providers.");
            if (m.ContextWindow <= 0)
                throw new InvalidDataException($"{source}: models[{i}] ({m.Id}): contextWindow must be positive.");
            if (m.InputPricePerMillion < 0 || m.OutputPricePerMillion < 0)
                throw new InvalidDataException($"{source}: models[{i}] ({m.Id}): prices cannot be negative.");
            foreach (var name in m.Aliases.Prepend(m.Id))
                if (!names.Add(name))
                    throw new InvalidDataException($"{source}: models[{i}]: the name '{name}' is used twice.");
        }
        foreach (var (name, p) in config.Providers)
        {
            if (string.IsNullOrWhiteSpace(p.Type))
                throw new InvalidDataException($"{source}: providers.{name}.type is required (openai, anthropic, bedrock or local).");
            if (p.TimeoutSeconds <= 0)
                throw new InvalidDataException($"{source}: providers.{name}.timeoutSeconds must be positive.");
            if (p.MaxRetries < 0)
                throw new InvalidDataException($"{source}: providers.{name}.maxRetries cannot be negative.");
        }
        if (config.Server.MaxRequestBodyBytes <= 0)
            throw new InvalidDataException($"{source}: server.maxRequestBodyBytes must be positive.");
        return config;
    }

    private sealed class ConfigDocument
    {
        public ServerConfig? Server { get; set; }
        public Dictionary<string, ProviderConfig>? Providers { get; set; }
        public List<ModelEntry>? Models { get; set; }
    }
}
