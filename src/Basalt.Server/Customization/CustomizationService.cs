using System.Security.Cryptography;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Engine.Store;
using Basalt.Server.State;

namespace Basalt.Server.Customization;

/// <summary>What CreateModelCustomizationJob asks for, already read from its JSON body.</summary>
public sealed record CreateJobRequest
{
    /// <summary>jobName.</summary>
    public required string JobName { get; init; }
    /// <summary>customModelName.</summary>
    public required string CustomModelName { get; init; }
    /// <summary>baseModelIdentifier: a catalog model, a custom model, a pulled model or a GGUF path on the server.</summary>
    public required string BaseModelIdentifier { get; init; }
    /// <summary>customizationType (FINE_TUNING when absent, as in Bedrock).</summary>
    public string CustomizationType { get; init; } = CustomizationTypes.FineTuning;
    /// <summary>trainingDataConfig.s3Uri: a JSONL file on the server (a path or a file:// URI).</summary>
    public required string TrainingDataUri { get; init; }
    /// <summary>validationDataConfig.validators[0].s3Uri.</summary>
    public string? ValidationDataUri { get; init; }
    /// <summary>outputDataConfig.s3Uri (recorded; outputs go to the data directory).</summary>
    public string? OutputDataUri { get; init; }
    /// <summary>roleArn (recorded).</summary>
    public string? RoleArn { get; init; }
    /// <summary>hyperParameters.</summary>
    public IReadOnlyDictionary<string, string> HyperParameters { get; init; } = new Dictionary<string, string>();
    /// <summary>customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier.</summary>
    public string? TeacherModel { get; init; }
    /// <summary>teacherModelConfig.maxResponseLengthForInference.</summary>
    public int? TeacherMaxResponseTokens { get; init; }
    /// <summary>clientRequestToken.</summary>
    public string? ClientRequestToken { get; init; }
}

/// <summary>Creates, reads, lists and stops customization jobs; the <see cref="CustomizationRunner"/> runs them.</summary>
public sealed class CustomizationService
{
    /// <summary>Longest job or model name (Bedrock's limit).</summary>
    public const int MaxNameLength = 63;

    private readonly IStateStore _store;
    private readonly BasaltConfig _config;
    private readonly CustomModels _models;
    private readonly TimeProvider _time;

    /// <summary>Creates the service over the server's store and config.</summary>
    public CustomizationService(IStateStore store, BasaltConfig config, CustomModels models, TimeProvider time)
    {
        _store = store;
        _config = config;
        _models = models;
        _time = time;
    }

    /// <summary>Signalled when a job is created or asked to stop, so the runner looks at once.</summary>
    internal event Action? Changed;

    /// <summary>Directory of a job's working files (checkpoint, teacher responses).</summary>
    public string JobDirectory(string jobId) => Path.GetFullPath(Path.Combine(_config.Server.DataDir, "customization", jobId));

    /// <summary>Path a custom model's GGUF is written to.</summary>
    public string ModelPath(string name) => Path.GetFullPath(Path.Combine(_config.Server.DataDir, "custom-models", name + ".gguf"));

    /// <summary>Validates and stores a new job (InProgress, queued for the runner).</summary>
    public async Task<CustomizationJob> CreateAsync(CreateJobRequest request, IReadOnlyCollection<string> catalogNames, CancellationToken cancellationToken = default)
    {
        CheckName("jobName", request.JobName);
        CheckName("customModelName", request.CustomModelName);
        if (Array.IndexOf(CustomizationTypes.All, request.CustomizationType) < 0)
            throw BasaltException.Validation($"customizationType: '{request.CustomizationType}' is not supported; Basalt runs {string.Join(", ", CustomizationTypes.All)}.");
        var hyper = JobHyperParameters.Parse(request.HyperParameters);
        var basePath = ResolveBaseModel(request.BaseModelIdentifier, await _models.FindAsync(request.BaseModelIdentifier, cancellationToken));
        var training = ToPath("trainingDataConfig.s3Uri", request.TrainingDataUri);
        var validation = request.ValidationDataUri is null ? null : ToPath("validationDataConfig.validators[0].s3Uri", request.ValidationDataUri);
        // Read the data now, so bad records fail the create call with their line rather than the job later.
        try
        {
            var records = TrainingDataReader.Read(training, request.CustomizationType);
            var validationRecords = validation is null ? null : TrainingDataReader.Read(validation, request.CustomizationType);
            // Tokenize too (the teacher's answers of a distillation job are not known yet), so an example too long for the
            // context is refused now with its line.
            if (request.CustomizationType != CustomizationTypes.Distillation)
            {
                var tokenization = TrainingTokenization.FromGguf(basePath);
                var sequence = hyper.SequenceLength > 0 ? hyper.SequenceLength : tokenization.DefaultSequenceLimit;
                tokenization.Tokenize(records, sequence, Path.GetFileName(training));
                if (validationRecords is not null)
                    tokenization.Tokenize(validationRecords, sequence, Path.GetFileName(validation!));
            }
        }
        catch (TrainingDataException e)
        {
            throw BasaltException.Validation("Invalid training data: " + e.Message);
        }
        catch (Exception e) when (e is Engine.Gguf.GgufFormatException or Engine.Templates.TemplateException or IOException)
        {
            throw BasaltException.Validation($"baseModelIdentifier: the base model {basePath} cannot be read for training: {e.Message}");
        }
        if (request.CustomizationType == CustomizationTypes.Distillation)
        {
            if (string.IsNullOrWhiteSpace(request.TeacherModel))
                throw BasaltException.Validation("customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier is required for DISTILLATION.");
            if (!catalogNames.Contains(request.TeacherModel) && await _models.FindAsync(request.TeacherModel, cancellationToken) is null)
                throw BasaltException.Validation($"teacherModelIdentifier: the model '{request.TeacherModel}' is not served by this Basalt; list models with GET /foundation-models.");
            if (request.TeacherMaxResponseTokens is < 1 or > 32_768)
                throw BasaltException.Validation("teacherModelConfig.maxResponseLengthForInference must be from 1 to 32768.");
        }
        else if (request.TeacherModel is not null)
            throw BasaltException.Validation("customizationConfig.distillationConfig is only for DISTILLATION jobs.");
        if (catalogNames.Contains(request.CustomModelName) || await _models.FindAsync(request.CustomModelName, cancellationToken) is not null)
            throw new BasaltException(ErrorKind.Conflict, $"customModelName: a model named '{request.CustomModelName}' already exists; pick another name.");
        foreach (var row in await _store.ListJobsAsync(cancellationToken))
        {
            var other = CustomizationJob.FromJson(row.Json);
            if (request.ClientRequestToken is not null && other.ClientRequestToken == request.ClientRequestToken && other.Name == request.JobName)
                return other; // an idempotent retry
            if (!JobStatus.IsFinal(other.Status) && other.OutputModelName == request.CustomModelName)
                throw new BasaltException(ErrorKind.Conflict, $"customModelName: the running job '{other.Name}' already produces a model named '{request.CustomModelName}'.");
        }

        var now = _time.GetUtcNow();
        var job = new CustomizationJob
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            Name = request.JobName,
            CustomizationType = request.CustomizationType,
            BaseModel = request.BaseModelIdentifier,
            OutputModelName = request.CustomModelName,
            TrainingDataUri = training,
            ValidationDataUri = validation,
            OutputDataUri = request.OutputDataUri,
            RoleArn = request.RoleArn,
            TeacherModel = request.TeacherModel,
            TeacherMaxResponseTokens = request.TeacherMaxResponseTokens,
            HyperParameters = new SortedDictionary<string, string>(request.HyperParameters.ToDictionary(), StringComparer.Ordinal),
            ClientRequestToken = request.ClientRequestToken,
            Status = JobStatus.InProgress,
            StatusDetails = "Queued",
            CreationTime = now,
            LastModifiedTime = now,
        };
        try
        {
            await _store.InsertJobAsync(ToDocument(job), cancellationToken);
        }
        catch (DuplicateNameException e)
        {
            throw new BasaltException(ErrorKind.Conflict, "jobName: " + e.Message);
        }
        Changed?.Invoke();
        return job;
    }

    /// <summary>The job with this id, name or ARN, or ResourceNotFound.</summary>
    public async Task<CustomizationJob> GetAsync(string identifier, CancellationToken cancellationToken = default)
    {
        var id = identifier;
        var slash = id.IndexOf(":model-customization-job/", StringComparison.Ordinal);
        if (id.StartsWith("arn:", StringComparison.Ordinal) && slash > 0)
            id = id[(slash + ":model-customization-job/".Length)..];
        var row = id.Length is 0 or > 1011 ? null : await _store.FindJobAsync(id, cancellationToken);
        return row is null
            ? throw BasaltException.NotFound($"The model customization job '{identifier}' does not exist. List jobs with GET /model-customization-jobs.")
            : CustomizationJob.FromJson(row.Json);
    }

    /// <summary>Every job, oldest first.</summary>
    public async Task<IReadOnlyList<CustomizationJob>> ListAsync(CancellationToken cancellationToken = default)
        => (await _store.ListJobsAsync(cancellationToken)).Select(r => CustomizationJob.FromJson(r.Json)).ToList();

    /// <summary>Asks a job to stop: a queued job stops at once, a running one becomes Stopping until the runner ends it.</summary>
    public async Task StopAsync(string identifier, CancellationToken cancellationToken = default)
    {
        var job = await GetAsync(identifier, cancellationToken);
        if (job.Status != JobStatus.InProgress)
            throw new BasaltException(ErrorKind.Validation, $"The job '{job.Name}' is {job.Status}; only an InProgress job can be stopped.");
        var now = _time.GetUtcNow();
        var queued = job.StatusDetails == "Queued";
        await SaveAsync(job with
        {
            Status = queued ? JobStatus.Stopped : JobStatus.Stopping,
            EndTime = queued ? now : null,
            LastModifiedTime = now,
        }, cancellationToken);
        Changed?.Invoke();
    }

    /// <summary>Stores a job's new state.</summary>
    internal Task SaveAsync(CustomizationJob job, CancellationToken cancellationToken = default) => _store.UpdateJobAsync(ToDocument(job), cancellationToken);

    /// <summary>The GGUF of a base model: a custom model, a local catalog model, a model pulled into the store, or a file.</summary>
    public string ResolveBaseModel(string identifier, CustomModelRecord? custom)
    {
        if (custom is not null)
            return custom.Path;
        var id = identifier;
        var slash = id.IndexOf(":foundation-model/", StringComparison.Ordinal);
        if (id.StartsWith("arn:", StringComparison.Ordinal) && slash > 0)
            id = id[(slash + ":foundation-model/".Length)..];
        var store = new ModelStore(ModelStore.ResolveDirectory(null, _config.Server.DataDir));
        var entry = _config.Models.FirstOrDefault(m => m.Id == id || m.Aliases.Contains(id));
        if (entry is not null)
        {
            var provider = _config.Providers.GetValueOrDefault(entry.Provider);
            if (provider is null || !string.Equals(provider.Type, "local", StringComparison.OrdinalIgnoreCase) || string.IsNullOrWhiteSpace(entry.Path))
                throw BasaltException.Validation($"baseModelIdentifier: '{identifier}' is served by the {provider?.Type ?? "unknown"} provider '{entry.Provider}'; Basalt customizes local GGUF models only (a remote model can be the teacher of a DISTILLATION job).");
            return File.Exists(entry.Path) ? Path.GetFullPath(entry.Path) : store.Resolve(entry.Path)
                ?? throw BasaltException.Validation($"baseModelIdentifier: the GGUF of '{identifier}' ({entry.Path}) does not exist.");
        }
        if (store.Resolve(id) is { } pulled)
            return pulled;
        if (id.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && File.Exists(ToPath("baseModelIdentifier", id)))
            return ToPath("baseModelIdentifier", id);
        throw BasaltException.Validation($"baseModelIdentifier: '{identifier}' is not a local model of the catalog, a custom model, a pulled model or a GGUF file on the server.");
    }

    private static StoredDocument ToDocument(CustomizationJob job) => new(job.Id, job.Name, job.Status, job.CreationTime, job.ToJson());

    /// <summary>A data location as a server path: a plain path or a file:// URI (Basalt reads no S3).</summary>
    private static string ToPath(string field, string uri)
    {
        if (string.IsNullOrWhiteSpace(uri) || uri.Length > 4096)
            throw BasaltException.Validation($"{field}: a path of 1 to 4096 characters is required.");
        if (uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            throw BasaltException.Validation($"{field}: Basalt reads training data from its own file system, not S3; give a path on the server (or file:///path).");
        var path = uri.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(uri).LocalPath : uri;
        if (!Path.IsPathFullyQualified(path))
            throw BasaltException.Validation($"{field}: '{uri}' must be an absolute path on the server (the CLI makes relative paths absolute).");
        return Path.GetFullPath(path);
    }

    private static void CheckName(string field, string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !char.IsAsciiLetterOrDigit(name[0])
            || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw BasaltException.Validation($"{field}: '{name}' must be 1 to {MaxNameLength} letters, digits, '-', '_' or '.', starting with a letter or digit.");
    }
}
