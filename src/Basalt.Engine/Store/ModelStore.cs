using System.Text.Json;
using System.Text.Json.Serialization;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Store;

/// <summary>A directory of GGUF models with an index (index.json) of what was registered: name, source, path, size, sha256 and header summary.</summary>
public sealed class ModelStore
{
    /// <summary>File name of the index inside the models directory.</summary>
    public const string IndexFileName = "index.json";

    /// <summary>Environment variable naming the models directory.</summary>
    public const string DirectoryVariable = "BASALT_MODELS";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    // Serializes index updates within this process; the rename keeps readers in other processes from seeing half a file.
    private static readonly Lock IndexLock = new();

    /// <summary>Opens (without creating) the store rooted at <paramref name="directory"/>.</summary>
    public ModelStore(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = System.IO.Path.GetFullPath(directory);
    }

    /// <summary>Absolute path of the models directory.</summary>
    public string Directory { get; }

    /// <summary>The models directory: the option if given, else $BASALT_MODELS, else DATA_DIR/models.</summary>
    public static string ResolveDirectory(string? option, string dataDir = "data")
    {
        if (!string.IsNullOrWhiteSpace(option))
            return option;
        var env = Environment.GetEnvironmentVariable(DirectoryVariable);
        return !string.IsNullOrWhiteSpace(env) ? env : System.IO.Path.Combine(dataDir, "models");
    }

    private string IndexPath => System.IO.Path.Combine(Directory, IndexFileName);

    /// <summary>All registered models, sorted by name.</summary>
    public IReadOnlyList<StoredModel> List()
    {
        var list = ReadIndex();
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>The model registered as <paramref name="name"/> (case-insensitive), or null.</summary>
    public StoredModel? Find(string name)
    {
        foreach (var m in ReadIndex())
            if (string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
                return m;
        return null;
    }

    /// <summary>Path of the GGUF for <paramref name="nameOrPath"/>: an existing file as given, else a registered model's file, else null.</summary>
    public string? Resolve(string nameOrPath)
    {
        if (File.Exists(nameOrPath))
            return System.IO.Path.GetFullPath(nameOrPath);
        return Find(nameOrPath) is { } m && File.Exists(m.Path) ? m.Path : null;
    }

    /// <summary>Where the file FILE of OWNER/REPO is kept: DIR/OWNER/REPO/FILE.</summary>
    public string PathFor(ModelReference reference) =>
        System.IO.Path.Combine(Directory, reference.Owner, reference.Repository, reference.File ?? throw new ArgumentException("The reference names no file.", nameof(reference)));

    /// <summary>Reads the GGUF header of <paramref name="path"/> and adds (or replaces) the index entry <paramref name="name"/>.</summary>
    /// <exception cref="GgufFormatException">The file is not a readable GGUF.</exception>
    public StoredModel Register(string name, string path, string source, string sha256, DateTimeOffset pulledAt)
    {
        string arch, quant;
        long parameters;
        using (var file = GgufFile.Open(path))
            (arch, parameters, quant) = GgufSummary.Read(file);
        var model = new StoredModel
        {
            Name = name, Source = source, Path = System.IO.Path.GetFullPath(path), Size = new FileInfo(path).Length,
            Sha256 = sha256, PulledAt = pulledAt, Architecture = arch, Parameters = parameters, Quantization = quant,
        };
        lock (IndexLock)
        {
            var list = ReadIndex();
            list.RemoveAll(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
            list.Add(model);
            WriteIndex(list);
        }
        return model;
    }

    /// <summary>Deletes the model's file and its index entry; returns the removed entry, or null when no model has that name.</summary>
    public StoredModel? Remove(string name)
    {
        lock (IndexLock)
        {
            var list = ReadIndex();
            var i = list.FindIndex(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
            if (i < 0)
                return null;
            var model = list[i];
            // Another entry may share the file (an alias); keep it then.
            var shared = list.Exists(m => m != model && string.Equals(m.Path, model.Path, StringComparison.Ordinal));
            if (!shared)
                File.Delete(model.Path);
            list.RemoveAt(i);
            WriteIndex(list);
            return model;
        }
    }

    private List<StoredModel> ReadIndex()
    {
        if (!File.Exists(IndexPath))
            return [];
        try
        {
            using var stream = File.OpenRead(IndexPath);
            return JsonSerializer.Deserialize<List<StoredModel>>(stream, JsonOptions) ?? [];
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The model index {IndexPath} is damaged ({e.Message}). Fix or delete it; the .gguf files beside it are untouched.", e);
        }
    }

    private void WriteIndex(List<StoredModel> list)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var temp = IndexPath + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(list, JsonOptions));
        File.Move(temp, IndexPath, overwrite: true);
    }
}
