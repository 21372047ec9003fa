using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Basalt.Cli.Commands;

/// <summary>`basalt customize create|list|show|stop|watch`: model customization jobs through a running server's control-plane API.</summary>
internal static class CustomizeCommand
{
    /// <summary>Environment variable naming the server (default http://127.0.0.1:8700).</summary>
    public const string EndpointVariable = "BASALT_ENDPOINT";

    /// <summary>Environment variable holding the API key.</summary>
    public const string ApiKeyVariable = "BASALT_API_KEY";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create()
    {
        var endpoint = new Option<string?>("--endpoint") { Description = $"The Basalt server (default: ${EndpointVariable}, then http://127.0.0.1:8700)." };
        var apiKey = new Option<string?>("--api-key") { Description = $"An API key, bsk-... (default: ${ApiKeyVariable})." };

        var type = new Option<string>("--type") { Description = "CONTINUED_PRE_TRAINING, FINE_TUNING or DISTILLATION.", DefaultValueFactory = _ => "FINE_TUNING" };
        var baseModel = new Option<string>("--base") { Description = "The model to customize: a local catalog model, a custom model, a pulled model or a GGUF path on the server.", Required = true };
        var data = new Option<string>("--data") { Description = "Training data, JSONL (a path on the server; relative paths are made absolute).", Required = true };
        var validation = new Option<string?>("--validation") { Description = "Validation data, JSONL (default: a share of the training data, see --hyper validationSplit=0.1)." };
        var teacher = new Option<string?>("--teacher") { Description = "DISTILLATION: the teacher, any model the server serves." };
        var teacherTokens = new Option<int?>("--teacher-max-tokens") { Description = "DISTILLATION: most tokens of one teacher answer (default 256)." };
        var name = new Option<string>("--name") { Description = "Name of the custom model the job produces.", Required = true };
        var jobName = new Option<string?>("--job-name") { Description = "Name of the job (default: NAME-job-TIMESTAMP)." };
        var epochs = new Option<int?>("--epochs") { Description = "epochCount: passes over the training data (default 2)." };
        var batch = new Option<int?>("--batch-size") { Description = "batchSize: sequences per step (default 4)." };
        var lr = new Option<double?>("--learning-rate") { Description = "learningRate: peak learning rate (default 0.0001)." };
        var warmup = new Option<int?>("--warmup-steps") { Description = "learningRateWarmupSteps (default 0)." };
        var lora = new Option<int?>("--lora-rank") { Description = "loraRank: LoRA adapters of this rank, merged into the exported model (default 0: full fine-tuning)." };
        var hyper = new Option<string[]>("--hyper") { Description = "Another hyper-parameter, KEY=VALUE (repeatable): sequenceLength, checkpointInterval, validationSplit, seed, weightDecay, maxSteps, threads, loraAlpha.", AllowMultipleArgumentsPerToken = false };
        var watchAfter = new Option<bool>("--watch") { Description = "Follow the job's progress after creating it." };
        var create = new Command("create", "Start a customization job on the server.")
        {
            type, baseModel, data, validation, teacher, teacherTokens, name, jobName, epochs, batch, lr, warmup, lora, hyper, watchAfter, endpoint, apiKey,
        };
        create.SetAction((parse, ct) => RunAsync(parse, endpoint, apiKey, async (http, output) =>
        {
            var parameters = new SortedDictionary<string, string>(StringComparer.Ordinal);
            void Put(string key, object? value)
            {
                if (value is not null)
                    parameters[key] = Convert.ToString(value, Inv)!;
            }
            Put("epochCount", parse.GetValue(epochs));
            Put("batchSize", parse.GetValue(batch));
            Put("learningRate", parse.GetValue(lr));
            Put("learningRateWarmupSteps", parse.GetValue(warmup));
            Put("loraRank", parse.GetValue(lora));
            foreach (var pair in parse.GetValue(hyper) ?? [])
            {
                var eq = pair.IndexOf('=');
                if (eq <= 0)
                    throw new CliError($"--hyper '{pair}': expected KEY=VALUE, for example --hyper checkpointInterval=20.");
                parameters[pair[..eq]] = pair[(eq + 1)..];
            }
            var model = parse.GetRequiredValue(name);
            var body = new Dictionary<string, object?>
            {
                ["jobName"] = parse.GetValue(jobName) ?? $"{model}-job-{DateTime.UtcNow:yyyyMMddHHmmss}",
                ["customModelName"] = model,
                ["roleArn"] = "",
                ["baseModelIdentifier"] = parse.GetRequiredValue(baseModel),
                ["customizationType"] = parse.GetRequiredValue(type).ToUpperInvariant(),
                ["trainingDataConfig"] = new Dictionary<string, string> { ["s3Uri"] = Path.GetFullPath(parse.GetRequiredValue(data)) },
                ["outputDataConfig"] = new Dictionary<string, string> { ["s3Uri"] = "" },
                ["hyperParameters"] = parameters,
            };
            if (parse.GetValue(validation) is { } v)
                body["validationDataConfig"] = new { validators = new[] { new { s3Uri = Path.GetFullPath(v) } } };
            if (parse.GetValue(teacher) is { } t)
                body["customizationConfig"] = new { distillationConfig = new { teacherModelConfig = new { teacherModelIdentifier = t, maxResponseLengthForInference = parse.GetValue(teacherTokens) } } };
            using var response = await SendAsync(http, HttpMethod.Post, "model-customization-jobs", JsonSerializer.Serialize(body), ct);
            var arn = response.RootElement.GetProperty("jobArn").GetString()!;
            var id = arn[(arn.LastIndexOf('/') + 1)..];
            output.WriteLine($"created job {id} ({body["jobName"]}); follow it with: basalt customize watch {id}");
            return parse.GetValue(watchAfter) ? await WatchAsync(http, id, output, ct) : 0;
        }));

        var list = new Command("list", "List customization jobs, newest first.") { endpoint, apiKey };
        list.SetAction((parse, ct) => RunAsync(parse, endpoint, apiKey, async (http, output) =>
        {
            using var doc = await SendAsync(http, HttpMethod.Get, "model-customization-jobs", null, ct);
            var jobs = doc.RootElement.GetProperty("modelCustomizationJobSummaries");
            if (jobs.GetArrayLength() == 0)
            {
                output.WriteLine("no customization jobs; start one with: basalt customize create --base MODEL --data FILE.jsonl --name OUT");
                return 0;
            }
            output.WriteLine($"{"ID",-12}  {"NAME",-24}  {"TYPE",-22}  {"STATUS",-10}  {"STEP",-11}  MODEL");
            foreach (var j in jobs.EnumerateArray())
            {
                var p = j.GetProperty("progress");
                var id = j.GetProperty("jobArn").GetString()!.Split('/')[^1];
                var step = string.Create(Inv, $"{p.GetProperty("step").GetInt32()}/{p.GetProperty("totalSteps").GetInt32()}");
                output.WriteLine($"{id,-12}  {j.GetProperty("jobName").GetString(),-24}  {j.GetProperty("customizationType").GetString(),-22}  {j.GetProperty("status").GetString(),-10}  {step,-11}  {j.GetProperty("customModelName").GetString()}");
            }
            return 0;
        }));

        var showId = new Argument<string>("id") { Description = "A job id, name or ARN." };
        var show = new Command("show", "Show a job: status, hyper-parameters, progress, losses.") { showId, endpoint, apiKey };
        show.SetAction((parse, ct) => RunAsync(parse, endpoint, apiKey, async (http, output) =>
        {
            using var doc = await SendAsync(http, HttpMethod.Get, "model-customization-jobs/" + Uri.EscapeDataString(parse.GetRequiredValue(showId)), null, ct);
            Show(doc.RootElement, output);
            return 0;
        }));

        var stopId = new Argument<string>("id") { Description = "A job id, name or ARN." };
        var stop = new Command("stop", "Stop a job (it keeps its last checkpoint; the model is not registered).") { stopId, endpoint, apiKey };
        stop.SetAction((parse, ct) => RunAsync(parse, endpoint, apiKey, async (http, output) =>
        {
            var id = parse.GetRequiredValue(stopId);
            (await SendAsync(http, HttpMethod.Post, "model-customization-jobs/" + Uri.EscapeDataString(id) + "/stop", "{}", ct)).Dispose();
            output.WriteLine($"stopping {id}");
            return 0;
        }));

        var watchId = new Argument<string>("id") { Description = "A job id, name or ARN." };
        var watch = new Command("watch", "Follow a job with a progress bar (step, loss, tokens/s, ETA) until it ends.") { watchId, endpoint, apiKey };
        watch.SetAction((parse, ct) => RunAsync(parse, endpoint, apiKey, (http, output) => WatchAsync(http, parse.GetRequiredValue(watchId), output, ct)));

        return new Command("customize", "Customization jobs (fine-tuning, continued pre-training, distillation) on a running server.") { create, list, show, stop, watch };
    }

    /// <summary>Polls the job and draws a progress bar until it is Completed, Failed or Stopped; the exit code is 0 only for Completed.</summary>
    internal static async Task<int> WatchAsync(HttpClient http, string id, TextWriter output, CancellationToken ct)
    {
        var path = "model-customization-jobs/" + Uri.EscapeDataString(id);
        JsonElement job = default;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(id, maxValue: 1);
                while (true)
                {
                    using (var doc = await SendAsync(http, HttpMethod.Get, path, null, ct))
                        job = doc.RootElement.Clone();
                    var p = job.GetProperty("progress");
                    var total = Math.Max(1, p.GetProperty("totalSteps").GetInt32());
                    task.MaxValue = total;
                    task.Value = p.GetProperty("step").GetInt32();
                    task.Description = Markup.Escape(Describe(job));
                    var status = job.GetProperty("status").GetString();
                    if (status is "Completed" or "Failed" or "Stopped")
                    {
                        if (status == "Completed")
                            task.Value = total;
                        task.StopTask();
                        return;
                    }
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
            });
        var final = job.GetProperty("status").GetString();
        if (final == "Completed")
            output.WriteLine($"completed: the model '{job.GetProperty("outputModelName").GetString()}' is served by name through every API");
        else if (final == "Failed")
            output.WriteLine($"failed: {(job.TryGetProperty("failureMessage", out var m) ? m.GetString() : "no message")}");
        else
            output.WriteLine("stopped");
        return final == "Completed" ? 0 : 1;
    }

    /// <summary>One line of progress: step, epoch, losses, throughput and ETA.</summary>
    internal static string Describe(JsonElement job)
    {
        var p = job.GetProperty("progress");
        var sb = new StringBuilder();
        sb.Append(Inv, $"{job.GetProperty("jobName").GetString()}  step {p.GetProperty("step").GetInt32()}/{p.GetProperty("totalSteps").GetInt32()}");
        if (p.TryGetProperty("trainingLoss", out var loss))
            sb.Append(Inv, $"  loss {loss.GetDouble():F3}");
        if (p.TryGetProperty("validationLoss", out var val))
            sb.Append(Inv, $"  val {val.GetDouble():F3}");
        if (p.TryGetProperty("tokensPerSecond", out var tps))
            sb.Append(Inv, $"  {tps.GetDouble():F0} tok/s");
        if (p.TryGetProperty("etaSeconds", out var eta) && job.GetProperty("status").GetString() == "InProgress")
            sb.Append(Inv, $"  ETA {TimeSpan.FromSeconds(Math.Round(eta.GetDouble())):g}");
        if (p.TryGetProperty("details", out var details) && details.GetString() is { } d && !d.StartsWith("Training", StringComparison.Ordinal))
            sb.Append("  ").Append(d);
        return sb.ToString();
    }

    internal static void Show(JsonElement job, TextWriter output)
    {
        output.WriteLine($"job:        {job.GetProperty("jobName").GetString()} ({job.GetProperty("jobArn").GetString()})");
        output.WriteLine($"type:       {job.GetProperty("customizationType").GetString()}");
        var status = job.GetProperty("status").GetString();
        var details = job.TryGetProperty("basaltStatusDetails", out var d) && d.GetString() != status ? " (" + d.GetString() + ")" : "";
        output.WriteLine($"status:     {status}{details}");
        if (job.TryGetProperty("failureMessage", out var failure))
            output.WriteLine($"failure:    {failure.GetString()}");
        output.WriteLine($"base:       {job.GetProperty("baseModelArn").GetString()}");
        output.WriteLine($"output:     {job.GetProperty("outputModelName").GetString()}");
        output.WriteLine($"data:       {job.GetProperty("trainingDataConfig").GetProperty("s3Uri").GetString()}");
        if (job.TryGetProperty("customizationConfig", out var cc))
            output.WriteLine($"teacher:    {cc.GetProperty("distillationConfig").GetProperty("teacherModelConfig").GetProperty("teacherModelIdentifier").GetString()}");
        var hp = string.Join(", ", job.GetProperty("hyperParameters").EnumerateObject().Select(p => p.Name + "=" + p.Value.GetString()));
        output.WriteLine($"hyper:      {(hp.Length == 0 ? "(defaults)" : hp)}");
        output.WriteLine($"progress:   {Describe(job)}");
        output.WriteLine($"created:    {job.GetProperty("creationTime").GetString()}");
        if (job.TryGetProperty("endTime", out var end))
            output.WriteLine($"ended:      {end.GetString()}");
    }

    private sealed class CliError(string message) : Exception(message);

    private static async Task<int> RunAsync(ParseResult parse, Option<string?> endpoint, Option<string?> apiKey, Func<HttpClient, TextWriter, Task<int>> action)
    {
        var error = parse.InvocationConfiguration.Error;
        var baseUrl = parse.GetValue(endpoint) ?? Environment.GetEnvironmentVariable(EndpointVariable) ?? "http://127.0.0.1:8700";
        if (!baseUrl.Contains("://", StringComparison.Ordinal))
            baseUrl = "http://" + baseUrl;
        var key = (parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable))?.Trim();
        if (string.IsNullOrEmpty(key) || key.Any(char.IsControl) || key.Contains(' ', StringComparison.Ordinal))
        {
            error.WriteLine($"error: {(string.IsNullOrEmpty(key) ? "no API key" : "the API key has spaces or control characters")}; pass --api-key or set {ApiKeyVariable} to a key from `basalt keys create --name NAME`.");
            return 1;
        }
        if (!Uri.TryCreate(baseUrl.TrimEnd('/') + "/", UriKind.Absolute, out _))
        {
            error.WriteLine($"error: '{baseUrl}' is not a server URL, for example http://127.0.0.1:8700.");
            return 1;
        }
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        try
        {
            return await action(http, parse.InvocationConfiguration.Output);
        }
        catch (CliError e)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (HttpRequestException e)
        {
            error.WriteLine($"error: cannot reach the server at {baseUrl}: {e.Message} (start it with `basalt serve`, or pass --endpoint).");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
    }

    private static async Task<JsonDocument> SendAsync(HttpClient http, HttpMethod method, string path, string? json, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            string message;
            try
            {
                using var doc = JsonDocument.Parse(text);
                message = doc.RootElement.TryGetProperty("message", out var m) ? m.GetString() ?? text : text;
            }
            catch (JsonException)
            {
                message = text;
            }
            throw new CliError($"{(int)response.StatusCode} {message}");
        }
        return JsonDocument.Parse(text.Length == 0 ? "{}" : text);
    }
}
