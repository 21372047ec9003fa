using System.Buffers;
using System.Text.Json;
using Basalt.Core.Conversation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Customization;

/// <summary>Bedrock's control plane for model customization: CreateModelCustomizationJob, GetModelCustomizationJob,
/// ListModelCustomizationJobs, StopModelCustomizationJob, GetCustomModel and ListCustomModels. Job responses carry Basalt's
/// training progress in an extra "progress" object, which the AWS SDKs ignore.</summary>
internal static class CustomizationEndpoints
{
    /// <summary>Largest create request body.</summary>
    public const int MaxCreateBodyBytes = 256 * 1024;

    /// <summary>Most hyper-parameters of one job.</summary>
    public const int MaxHyperParameters = 64;

    /// <summary>Largest page of a list call (Bedrock's maxResults limit).</summary>
    public const int MaxPage = 1000;

    private const string JobsPath = "/model-customization-jobs";
    private const string ModelsPath = "/custom-models";

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapModelCustomization(this IEndpointRouteBuilder app)
    {
        app.MapPost(JobsPath, (RequestDelegate)CreateAsync);
        app.MapGet(JobsPath, (RequestDelegate)ListJobsAsync);
        app.MapGet(JobsPath + "/{**jobIdentifier}", (RequestDelegate)(context => GetJobAsync(context, Tail(context, JobsPath + "/"))));
        app.MapPost(JobsPath + "/{**rest}", (RequestDelegate)StopAsync);
        app.MapGet(ModelsPath, (RequestDelegate)ListModelsAsync);
        app.MapGet(ModelsPath + "/{**modelIdentifier}", (RequestDelegate)(context => GetModelAsync(context, Tail(context, ModelsPath + "/"))));
        return app;
    }

    private static CustomizationService Service(HttpContext context) => context.RequestServices.GetRequiredService<CustomizationService>();

    private static async Task CreateAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxCreateBodyBytes)
            throw BasaltException.Validation($"The request body is larger than {MaxCreateBodyBytes} bytes.");
        JsonDocument doc;
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            if (buffer.Length > MaxCreateBodyBytes)
                throw BasaltException.Validation($"The request body is larger than {MaxCreateBodyBytes} bytes.");
            doc = JsonDocument.Parse(buffer.ToArray());
        }
        catch (JsonException e)
        {
            throw BasaltException.Validation("The request body is not valid JSON: " + e.Message);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw BasaltException.Validation("The request body must be a JSON object.");
            var hyper = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("hyperParameters", out var hp))
            {
                if (hp.ValueKind != JsonValueKind.Object)
                    throw BasaltException.Validation("hyperParameters must be an object of strings.");
                foreach (var p in hp.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.String)
                        throw BasaltException.Validation($"hyperParameters.{p.Name} must be a string (Bedrock passes every hyper-parameter as a string, for example \"3\").");
                    hyper[p.Name] = p.Value.GetString()!;
                }
                if (hyper.Count > MaxHyperParameters)
                    throw BasaltException.Validation($"hyperParameters has more than {MaxHyperParameters} entries.");
            }
            string? teacher = null;
            int? teacherTokens = null;
            if (root.TryGetProperty("customizationConfig", out var cc) && cc.ValueKind == JsonValueKind.Object
                && cc.TryGetProperty("distillationConfig", out var dc) && dc.ValueKind == JsonValueKind.Object)
            {
                if (!dc.TryGetProperty("teacherModelConfig", out var tc) || tc.ValueKind != JsonValueKind.Object)
                    throw BasaltException.Validation("customizationConfig.distillationConfig.teacherModelConfig is required.");
                teacher = String(tc, "teacherModelIdentifier", "customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier", required: true);
                if (tc.TryGetProperty("maxResponseLengthForInference", out var max))
                    teacherTokens = max.ValueKind == JsonValueKind.Number && max.TryGetInt32(out var n) ? n
                        : throw BasaltException.Validation("teacherModelConfig.maxResponseLengthForInference must be an integer.");
            }
            string? validation = null;
            if (root.TryGetProperty("validationDataConfig", out var vc) && vc.ValueKind == JsonValueKind.Object
                && vc.TryGetProperty("validators", out var validators) && validators.ValueKind == JsonValueKind.Array)
            {
                if (validators.GetArrayLength() > 1)
                    throw BasaltException.Validation("validationDataConfig.validators: Basalt takes one validation file.");
                if (validators.GetArrayLength() == 1)
                    validation = String(validators[0], "s3Uri", "validationDataConfig.validators[0].s3Uri", required: true);
            }
            var request = new CreateJobRequest
            {
                JobName = String(root, "jobName", "jobName", required: true)!,
                CustomModelName = String(root, "customModelName", "customModelName", required: true)!,
                BaseModelIdentifier = String(root, "baseModelIdentifier", "baseModelIdentifier", required: true)!,
                CustomizationType = String(root, "customizationType", "customizationType", required: false) ?? CustomizationTypes.FineTuning,
                TrainingDataUri = Nested(root, "trainingDataConfig", "s3Uri") ?? throw BasaltException.Validation("trainingDataConfig.s3Uri is required: the path of a JSONL file on the server."),
                ValidationDataUri = validation,
                OutputDataUri = Nested(root, "outputDataConfig", "s3Uri"),
                RoleArn = String(root, "roleArn", "roleArn", required: false),
                HyperParameters = hyper,
                TeacherModel = teacher,
                TeacherMaxResponseTokens = teacherTokens,
                ClientRequestToken = String(root, "clientRequestToken", "clientRequestToken", required: false),
            };
            var catalog = context.RequestServices.GetRequiredService<Gateway>().Catalog;
            var names = new HashSet<string>(catalog.Models.SelectMany(m => m.Aliases.Prepend(m.Id)), StringComparer.Ordinal);
            var job = await Service(context).CreateAsync(request, names, context.RequestAborted);
            await WriteAsync(context, StatusCodes.Status201Created, w =>
            {
                w.WriteStartObject();
                w.WriteString("jobArn", job.Arn);
                w.WriteEndObject();
            });
        }
    }

    private static async Task GetJobAsync(HttpContext context, string identifier)
    {
        var job = await Service(context).GetAsync(identifier, context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status200OK, w => WriteJob(w, job));
    }

    private static async Task ListJobsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var status = query["statusEquals"].FirstOrDefault();
        if (status is not null && Array.IndexOf(JobStatus.All, status) < 0)
            throw BasaltException.Validation($"statusEquals: '{status}' is not one of {string.Join(", ", JobStatus.All)}.");
        var name = query["nameContains"].FirstOrDefault();
        var after = Time(query, "creationTimeAfter");
        var before = Time(query, "creationTimeBefore");
        IEnumerable<CustomizationJob> jobs = (await Service(context).ListAsync(context.RequestAborted))
            .Where(j => (status is null || j.Status == status) && (name is null || j.Name.Contains(name, StringComparison.Ordinal))
                && (after is null || j.CreationTime > after) && (before is null || j.CreationTime < before));
        var page = Page(query, Ordered(query, jobs, j => j.CreationTime, j => j.Name), out var next);
        await WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            if (next is not null)
                w.WriteString("nextToken", next);
            w.WriteStartArray("modelCustomizationJobSummaries");
            foreach (var j in page)
            {
                w.WriteStartObject();
                w.WriteString("jobArn", j.Arn);
                w.WriteString("baseModelArn", BaseModelArn(j.BaseModel));
                w.WriteString("jobName", j.Name);
                w.WriteString("status", j.Status);
                w.WriteString("lastModifiedTime", j.LastModifiedTime);
                w.WriteString("creationTime", j.CreationTime);
                if (j.EndTime is { } end)
                    w.WriteString("endTime", end);
                if (j.Status == JobStatus.Completed)
                    w.WriteString("customModelArn", j.OutputModelArn);
                w.WriteString("customModelName", j.OutputModelName);
                w.WriteString("customizationType", j.CustomizationType);
                WriteProgress(w, j);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task StopAsync(HttpContext context)
    {
        var tail = Tail(context, JobsPath + "/");
        if (!tail.EndsWith("/stop", StringComparison.Ordinal))
            throw BasaltException.NotFound($"No operation at POST {context.Request.Path}; stop a job with POST /model-customization-jobs/JOB/stop.");
        await Service(context).StopAsync(tail[..^"/stop".Length], context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteEndObject();
        });
    }

    private static async Task GetModelAsync(HttpContext context, string identifier)
    {
        var model = await context.RequestServices.GetRequiredService<CustomModels>().FindAsync(identifier, context.RequestAborted)
            ?? throw BasaltException.NotFound($"The custom model '{identifier}' does not exist. List custom models with GET /custom-models.");
        await WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("modelArn", model.Arn);
            w.WriteString("modelName", model.Name);
            w.WriteString("jobName", model.JobName);
            w.WriteString("jobArn", $"arn:aws:bedrock:{Bedrock.FoundationModels.Region}:{CustomizationJob.Account}:model-customization-job/{model.JobId}");
            w.WriteString("baseModelArn", BaseModelArn(model.BaseModel));
            w.WriteString("customizationType", model.CustomizationType);
            WriteHyperParameters(w, model.HyperParameters);
            w.WriteStartObject("trainingMetrics");
            if (model.TrainingLoss is { } loss)
                w.WriteNumber("trainingLoss", loss);
            w.WriteEndObject();
            w.WriteStartArray("validationMetrics");
            if (model.ValidationLoss is { } v)
            {
                w.WriteStartObject();
                w.WriteNumber("validationLoss", v);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("creationTime", model.CreationTime);
            w.WriteString("modelStatus", "Active");
            w.WriteEndObject();
        });
    }

    private static async Task ListModelsAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var name = query["nameContains"].FirstOrDefault();
        IEnumerable<CustomModelRecord> models = (await context.RequestServices.GetRequiredService<CustomModels>().ListAsync(context.RequestAborted))
            .Where(m => name is null || m.Name.Contains(name, StringComparison.Ordinal));
        var page = Page(query, Ordered(query, models, m => m.CreationTime, m => m.Name), out var next);
        await WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            if (next is not null)
                w.WriteString("nextToken", next);
            w.WriteStartArray("modelSummaries");
            foreach (var m in page)
            {
                w.WriteStartObject();
                w.WriteString("modelArn", m.Arn);
                w.WriteString("modelName", m.Name);
                w.WriteString("creationTime", m.CreationTime);
                w.WriteString("baseModelArn", BaseModelArn(m.BaseModel));
                w.WriteString("baseModelName", m.BaseModel);
                w.WriteString("customizationType", m.CustomizationType);
                w.WriteString("ownerAccountId", CustomizationJob.Account);
                w.WriteString("modelStatus", "Active");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void WriteJob(Utf8JsonWriter w, CustomizationJob j)
    {
        w.WriteStartObject();
        w.WriteString("jobArn", j.Arn);
        w.WriteString("jobName", j.Name);
        w.WriteString("outputModelName", j.OutputModelName);
        if (j.Status == JobStatus.Completed)
            w.WriteString("outputModelArn", j.OutputModelArn);
        if (j.ClientRequestToken is not null)
            w.WriteString("clientRequestToken", j.ClientRequestToken);
        w.WriteString("roleArn", j.RoleArn ?? "");
        w.WriteString("status", j.Status);
        if (j.StatusDetails is not null)
            w.WriteString("basaltStatusDetails", j.StatusDetails);
        if (j.FailureMessage is not null)
            w.WriteString("failureMessage", j.FailureMessage);
        w.WriteString("creationTime", j.CreationTime);
        w.WriteString("lastModifiedTime", j.LastModifiedTime);
        if (j.EndTime is { } end)
            w.WriteString("endTime", end);
        w.WriteString("baseModelArn", BaseModelArn(j.BaseModel));
        WriteHyperParameters(w, j.HyperParameters);
        w.WriteStartObject("trainingDataConfig");
        w.WriteString("s3Uri", j.TrainingDataUri);
        w.WriteEndObject();
        w.WriteStartObject("validationDataConfig");
        w.WriteStartArray("validators");
        if (j.ValidationDataUri is not null)
        {
            w.WriteStartObject();
            w.WriteString("s3Uri", j.ValidationDataUri);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("outputDataConfig");
        w.WriteString("s3Uri", j.OutputDataUri ?? "");
        w.WriteEndObject();
        w.WriteString("customizationType", j.CustomizationType);
        w.WriteStartObject("trainingMetrics");
        if (j.Progress.TrainingLoss is { } loss)
            w.WriteNumber("trainingLoss", loss);
        w.WriteEndObject();
        w.WriteStartArray("validationMetrics");
        if (j.Progress.ValidationLoss is { } v)
        {
            w.WriteStartObject();
            w.WriteNumber("validationLoss", v);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (j.TeacherModel is not null)
        {
            w.WriteStartObject("customizationConfig");
            w.WriteStartObject("distillationConfig");
            w.WriteStartObject("teacherModelConfig");
            w.WriteString("teacherModelIdentifier", j.TeacherModel);
            if (j.TeacherMaxResponseTokens is { } max)
                w.WriteNumber("maxResponseLengthForInference", max);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        WriteProgress(w, j);
        w.WriteEndObject();
    }

    /// <summary>Basalt's extension: where training is (the AWS SDKs skip unknown members).</summary>
    private static void WriteProgress(Utf8JsonWriter w, CustomizationJob j)
    {
        var p = j.Progress;
        w.WriteStartObject("progress");
        w.WriteNumber("step", p.Step);
        w.WriteNumber("totalSteps", p.TotalSteps);
        w.WriteNumber("epoch", p.Epoch);
        if (p.TrainingLoss is { } loss)
            w.WriteNumber("trainingLoss", loss);
        if (p.ValidationLoss is { } v)
            w.WriteNumber("validationLoss", v);
        if (p.TokensPerSecond is { } tps)
            w.WriteNumber("tokensPerSecond", Math.Round(tps, 1));
        if (p.EtaSeconds is { } eta)
            w.WriteNumber("etaSeconds", Math.Round(eta, 1));
        w.WriteNumber("trainingExamples", p.TrainingExamples);
        w.WriteNumber("validationExamples", p.ValidationExamples);
        w.WriteNumber("checkpointStep", p.CheckpointStep);
        w.WriteNumber("teacherResponses", p.TeacherResponses);
        if (j.StatusDetails is not null)
            w.WriteString("details", j.StatusDetails);
        w.WriteEndObject();
    }

    private static void WriteHyperParameters(Utf8JsonWriter w, IReadOnlyDictionary<string, string> values)
    {
        w.WriteStartObject("hyperParameters");
        foreach (var (k, v) in values)
            w.WriteString(k, v);
        w.WriteEndObject();
    }

    private static string BaseModelArn(string baseModel)
        => baseModel.StartsWith("arn:", StringComparison.Ordinal) ? baseModel : $"arn:aws:bedrock:{Bedrock.FoundationModels.Region}::foundation-model/{baseModel}";

    private static IEnumerable<T> Ordered<T>(IQueryCollection query, IEnumerable<T> items, Func<T, DateTimeOffset> time, Func<T, string> name)
    {
        var ascending = query["sortOrder"].FirstOrDefault() switch
        {
            null or "Descending" => false,
            "Ascending" => true,
            var other => throw BasaltException.Validation($"sortOrder: '{other}' is not Ascending or Descending."),
        };
        var sortBy = query["sortBy"].FirstOrDefault();
        if (sortBy is not (null or "CreationTime"))
            throw BasaltException.Validation($"sortBy: '{sortBy}' is not supported; use CreationTime.");
        return ascending ? items.OrderBy(time).ThenBy(name, StringComparer.Ordinal) : items.OrderByDescending(time).ThenByDescending(name, StringComparer.Ordinal);
    }

    /// <summary>One page; nextToken is the offset of the next page.</summary>
    private static List<T> Page<T>(IQueryCollection query, IEnumerable<T> items, out string? next)
    {
        var max = MaxPage;
        if (query["maxResults"].FirstOrDefault() is { } m && (!int.TryParse(m, out max) || max is < 1 or > MaxPage))
            throw BasaltException.Validation($"maxResults: must be from 1 to {MaxPage}.");
        var offset = 0;
        if (query["nextToken"].FirstOrDefault() is { } token && (!int.TryParse(token, out offset) || offset < 0))
            throw BasaltException.Validation("nextToken: not a token this server returned.");
        var all = items.ToList();
        var page = all.Skip(offset).Take(max).ToList();
        next = offset + page.Count < all.Count ? (offset + page.Count).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        return page;
    }

    private static DateTimeOffset? Time(IQueryCollection query, string name)
    {
        if (query[name].FirstOrDefault() is not { } value)
            return null;
        return DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t)
            ? t
            : throw BasaltException.Validation($"{name}: '{value}' is not an ISO 8601 time.");
    }

    private static string? String(JsonElement obj, string property, string field, bool required)
    {
        if (!obj.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null)
            return required ? throw BasaltException.Validation($"{field} is required.") : null;
        if (value.ValueKind != JsonValueKind.String)
            throw BasaltException.Validation($"{field} must be a string.");
        return value.GetString();
    }

    private static string? Nested(JsonElement root, string property, string inner)
    {
        if (!root.TryGetProperty(property, out var obj) || obj.ValueKind == JsonValueKind.Null)
            return null;
        if (obj.ValueKind != JsonValueKind.Object)
            throw BasaltException.Validation($"{property} must be an object.");
        return String(obj, inner, property + "." + inner, required: false);
    }

    private static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
            write(w);
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>The request target after <paramref name="prefix"/>, percent-decoded (an ARN arrives with its '/' encoded).</summary>
    private static string Tail(HttpContext context, string prefix)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw) || raw[0] != '/')
            raw = context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?');
        if (query >= 0)
            raw = raw[..query];
        var at = raw.IndexOf(prefix, StringComparison.OrdinalIgnoreCase);
        return at < 0 ? "" : Uri.UnescapeDataString(raw[(at + prefix.Length)..]);
    }
}

/// <summary>Registers the customization services: the job service, the custom model registry and the background runner.</summary>
internal static class CustomizationServices
{
    /// <summary>Adds the services.</summary>
    public static IServiceCollection AddModelCustomization(this IServiceCollection services)
    {
        services.AddSingleton<CustomModels>();
        services.AddSingleton<CustomizationService>();
        services.AddSingleton(sp => new CustomizationRunner(
            sp.GetRequiredService<CustomizationService>(), sp.GetRequiredService<CustomModels>(),
            () => sp.GetRequiredService<Gateway>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<CustomizationRunner>>()));
        services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => sp.GetRequiredService<CustomizationRunner>());
        return services;
    }
}
