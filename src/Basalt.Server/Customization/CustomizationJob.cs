using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Basalt.Core.Conversation;

namespace Basalt.Server.Customization;

/// <summary>Bedrock's ModelCustomizationJobStatus values.</summary>
public static class JobStatus
{
    /// <summary>Queued or running.</summary>
    public const string InProgress = "InProgress";
    /// <summary>Finished; the custom model is registered.</summary>
    public const string Completed = "Completed";
    /// <summary>Ended with an error (see failureMessage).</summary>
    public const string Failed = "Failed";
    /// <summary>A stop was requested while it ran.</summary>
    public const string Stopping = "Stopping";
    /// <summary>Stopped by a request.</summary>
    public const string Stopped = "Stopped";

    /// <summary>Every status.</summary>
    public static readonly string[] All = [InProgress, Completed, Failed, Stopping, Stopped];

    /// <summary>True when the job will not change any more.</summary>
    public static bool IsFinal(string status) => status is Completed or Failed or Stopped;
}

/// <summary>Training progress as the runner last recorded it.</summary>
public sealed record JobProgress
{
    /// <summary>Optimisation steps done.</summary>
    public int Step { get; init; }
    /// <summary>Steps of the whole job.</summary>
    public int TotalSteps { get; init; }
    /// <summary>Current epoch (1-based).</summary>
    public int Epoch { get; init; }
    /// <summary>Mean loss of the last step.</summary>
    public double? TrainingLoss { get; init; }
    /// <summary>Mean loss per token on the validation examples, at the last evaluation.</summary>
    public double? ValidationLoss { get; init; }
    /// <summary>Training tokens per second over the recent steps.</summary>
    public double? TokensPerSecond { get; init; }
    /// <summary>Estimated seconds until training finishes.</summary>
    public double? EtaSeconds { get; init; }
    /// <summary>Examples trained on.</summary>
    public int TrainingExamples { get; init; }
    /// <summary>Examples held out for validation.</summary>
    public int ValidationExamples { get; init; }
    /// <summary>Step of the last checkpoint saved.</summary>
    public int CheckpointStep { get; init; }
    /// <summary>Teacher responses collected (distillation).</summary>
    public int TeacherResponses { get; init; }
}

/// <summary>One model customization job, as stored.</summary>
public sealed record CustomizationJob
{
    /// <summary>The account id in Basalt's ARNs (a self-hosted server has no AWS account).</summary>
    public const string Account = "000000000000";

    /// <summary>Stable id (12 lowercase hex digits).</summary>
    public required string Id { get; init; }
    /// <summary>The unique job name.</summary>
    public required string Name { get; init; }
    /// <summary>FINE_TUNING, CONTINUED_PRE_TRAINING or DISTILLATION.</summary>
    public required string CustomizationType { get; init; }
    /// <summary>The base model as the caller named it.</summary>
    public required string BaseModel { get; init; }
    /// <summary>The name the finished model is served under.</summary>
    public required string OutputModelName { get; init; }
    /// <summary>The training file (trainingDataConfig.s3Uri, a path on the server).</summary>
    public required string TrainingDataUri { get; init; }
    /// <summary>The validation file, or null for a split of the training data.</summary>
    public string? ValidationDataUri { get; init; }
    /// <summary>outputDataConfig.s3Uri as given (Basalt writes outputs into its data directory).</summary>
    public string? OutputDataUri { get; init; }
    /// <summary>roleArn as given (not used by Basalt).</summary>
    public string? RoleArn { get; init; }
    /// <summary>The distillation teacher's model id.</summary>
    public string? TeacherModel { get; init; }
    /// <summary>Most tokens of one teacher answer.</summary>
    public int? TeacherMaxResponseTokens { get; init; }
    /// <summary>Hyper-parameters as strings (Bedrock's shape), as given.</summary>
    public IReadOnlyDictionary<string, string> HyperParameters { get; init; } = new Dictionary<string, string>();
    /// <summary>The caller's idempotency token.</summary>
    public string? ClientRequestToken { get; init; }
    /// <summary>InProgress, Completed, Failed, Stopping or Stopped.</summary>
    public required string Status { get; init; }
    /// <summary>What the job is doing now (queued, collecting teacher responses, training, exporting).</summary>
    public string? StatusDetails { get; init; }
    /// <summary>Why it failed.</summary>
    public string? FailureMessage { get; init; }
    /// <summary>When it was created.</summary>
    public required DateTimeOffset CreationTime { get; init; }
    /// <summary>When it last changed.</summary>
    public required DateTimeOffset LastModifiedTime { get; init; }
    /// <summary>When it ended.</summary>
    public DateTimeOffset? EndTime { get; init; }
    /// <summary>Training progress.</summary>
    public JobProgress Progress { get; init; } = new();

    /// <summary>The job's ARN.</summary>
    [JsonIgnore]
    public string Arn => $"arn:aws:bedrock:{Bedrock.FoundationModels.Region}:{Account}:model-customization-job/{Id}";

    /// <summary>The ARN of the model it produces.</summary>
    [JsonIgnore]
    public string OutputModelArn => CustomModelRecord.ArnOf(OutputModelName);

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The stored JSON document.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a stored document.</summary>
    public static CustomizationJob FromJson(string json) => JsonSerializer.Deserialize<CustomizationJob>(json, Json)
        ?? throw new InvalidDataException("An empty customization job document.");
}

/// <summary>A model a customization job produced, served by name through every API.</summary>
public sealed record CustomModelRecord
{
    /// <summary>The name callers use as the model id.</summary>
    public required string Name { get; init; }
    /// <summary>The GGUF file.</summary>
    public required string Path { get; init; }
    /// <summary>The job that made it.</summary>
    public required string JobId { get; init; }
    /// <summary>The job's name.</summary>
    public required string JobName { get; init; }
    /// <summary>The base model as the job named it.</summary>
    public required string BaseModel { get; init; }
    /// <summary>The customization type.</summary>
    public required string CustomizationType { get; init; }
    /// <summary>The job's hyper-parameters.</summary>
    public IReadOnlyDictionary<string, string> HyperParameters { get; init; } = new Dictionary<string, string>();
    /// <summary>The context window the model was trained for.</summary>
    public int ContextWindow { get; init; }
    /// <summary>Loss of the last training step.</summary>
    public double? TrainingLoss { get; init; }
    /// <summary>Final validation loss.</summary>
    public double? ValidationLoss { get; init; }
    /// <summary>When it was registered.</summary>
    public required DateTimeOffset CreationTime { get; init; }

    /// <summary>The model's ARN.</summary>
    [JsonIgnore]
    public string Arn => ArnOf(Name);

    /// <summary>The ARN of a custom model name.</summary>
    public static string ArnOf(string name) => $"arn:aws:bedrock:{Bedrock.FoundationModels.Region}:{CustomizationJob.Account}:custom-model/{name}";

    /// <summary>The stored JSON document.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, CustomizationJob.Json);

    /// <summary>Reads a stored document.</summary>
    public static CustomModelRecord FromJson(string json) => JsonSerializer.Deserialize<CustomModelRecord>(json, CustomizationJob.Json)
        ?? throw new InvalidDataException("An empty custom model document.");
}

/// <summary>The hyper-parameters a job trains with, parsed from Bedrock's string map with Basalt's defaults.</summary>
public sealed record JobHyperParameters
{
    /// <summary>Names Basalt accepts (Bedrock's four plus Basalt's extensions).</summary>
    public static readonly string[] Names =
    [
        "epochCount", "batchSize", "learningRate", "learningRateWarmupSteps", "loraRank", "loraAlpha",
        "sequenceLength", "checkpointInterval", "validationSplit", "seed", "weightDecay", "maxSteps", "threads",
    ];

    /// <summary>Passes over the training data.</summary>
    public int EpochCount { get; init; } = 2;
    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 4;
    /// <summary>Peak learning rate.</summary>
    public float LearningRate { get; init; } = 1e-4f;
    /// <summary>Warm-up steps.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>LoRA rank; 0 trains every weight.</summary>
    public int LoraRank { get; init; }
    /// <summary>LoRA alpha.</summary>
    public float LoraAlpha { get; init; } = 16f;
    /// <summary>Longest sequence trained on; 0 uses the base model's context (capped at <see cref="DefaultMaxSequence"/>).</summary>
    public int SequenceLength { get; init; }
    /// <summary>Steps between checkpoints: a crash or restart loses at most this much work.</summary>
    public int CheckpointInterval { get; init; } = 50;
    /// <summary>Fraction of the training records held out for validation when no validation file is given.</summary>
    public double ValidationSplit { get; init; } = 0.1;
    /// <summary>Seed of the split and the shuffling.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>AdamW weight decay.</summary>
    public float WeightDecay { get; init; }
    /// <summary>Stops after this many steps (0: no limit).</summary>
    public int MaxSteps { get; init; }
    /// <summary>Training threads (0: every core).</summary>
    public int Threads { get; init; }

    /// <summary>Longest default sequence (the base context is capped so small jobs stay fast).</summary>
    public const int DefaultMaxSequence = 512;

    /// <summary>Parses and checks the string map; an unknown name or a bad value is a validation error naming it.</summary>
    public static JobHyperParameters Parse(IReadOnlyDictionary<string, string> values)
    {
        var p = new JobHyperParameters();
        foreach (var (name, value) in values)
        {
            p = name switch
            {
                "epochCount" => p with { EpochCount = Int(name, value, 1, 10_000) },
                "batchSize" => p with { BatchSize = Int(name, value, 1, 4096) },
                "learningRate" => p with { LearningRate = Float(name, value, 1e-9, 10) },
                "learningRateWarmupSteps" => p with { WarmupSteps = Int(name, value, 0, 1_000_000) },
                "loraRank" => p with { LoraRank = Int(name, value, 0, 1024) },
                "loraAlpha" => p with { LoraAlpha = Float(name, value, 1e-6, 1e6) },
                "sequenceLength" => p with { SequenceLength = Int(name, value, 2, 131_072) },
                "checkpointInterval" => p with { CheckpointInterval = Int(name, value, 1, 1_000_000) },
                "validationSplit" => p with { ValidationSplit = Float(name, value, 0, 0.9) },
                "seed" => p with { Seed = Int(name, value, 0, int.MaxValue) },
                "weightDecay" => p with { WeightDecay = Float(name, value, 0, 10) },
                "maxSteps" => p with { MaxSteps = Int(name, value, 0, int.MaxValue) },
                "threads" => p with { Threads = Int(name, value, 0, 1024) },
                _ => throw BasaltException.Validation($"hyperParameters: '{name}' is not a known hyper-parameter; known: {string.Join(", ", Names)}."),
            };
        }
        return p;
    }

    private static int Int(string name, string value, int min, int max)
        => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? v
            : throw BasaltException.Validation($"hyperParameters.{name}: '{value}' must be a whole number from {min} to {max}.");

    private static float Float(string name, string value, double min, double max)
        => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? (float)v
            : throw BasaltException.Validation($"hyperParameters.{name}: '{value}' must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}.");
}
