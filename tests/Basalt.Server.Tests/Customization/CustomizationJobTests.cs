using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Engine.Training;
using Basalt.Server.Customization;
using Basalt.Server.State;
using Basalt.Server.Tests.Fakes;
using Basalt.Tests.Common;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Tests.Customization;

/// <summary>Customization jobs end to end through the control-plane API on a real server, with stories260K as the base model
/// (and, for distillation, the teacher) served by the local engine.</summary>
public sealed class CustomizationJobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("basalt-jobs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<RunningServer> Start(string model, string? dataDir = null, Action<CustomizationRunner>? runner = null) => RunningServer.StartAsync(cfg => cfg with
    {
        Server = dataDir is null ? cfg.Server : cfg.Server with { DataDir = dataDir },
        Providers = new Dictionary<string, ProviderConfig>(cfg.Providers) { ["engine"] = new() { Type = "local" } },
        Models = [.. cfg.Models, new ModelEntry { Id = "stories", Provider = "engine", Path = model, ContextWindow = 256 }],
    }, configureApp: app => runner?.Invoke(app.Services.GetRequiredService<CustomizationRunner>()));

    private string Write(string name, IEnumerable<string> lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static object Job(string name, string output, string type, string data, Dictionary<string, string> hyper, string? teacher = null) => new Dictionary<string, object?>
    {
        ["jobName"] = name,
        ["customModelName"] = output,
        ["roleArn"] = "arn:aws:iam::000000000000:role/unused",
        ["baseModelIdentifier"] = "stories",
        ["customizationType"] = type,
        ["trainingDataConfig"] = new { s3Uri = data },
        ["outputDataConfig"] = new { s3Uri = "file:///unused" },
        ["hyperParameters"] = hyper,
        ["customizationConfig"] = teacher is null ? null : new { distillationConfig = new { teacherModelConfig = new { teacherModelIdentifier = teacher, maxResponseLengthForInference = 12 } } },
    };

    private static async Task<JsonElement> WaitAsync(HttpClient http, string job, params string[] until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync("model-customization-jobs/" + job));
            var status = doc.RootElement.GetProperty("status").GetString()!;
            if (until.Contains(status))
                return doc.RootElement.Clone();
            Assert.True(status is JobStatus.InProgress or JobStatus.Stopping, "The job ended " + status + ": " + doc.RootElement);
            Assert.True(DateTime.UtcNow < deadline, "The job did not finish in time: " + doc.RootElement);
            await Task.Delay(50);
        }
    }

    private static string Text(JsonDocument converse) => converse.RootElement.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString()!;

    [Fact]
    public async Task CreateJob_BadRecordInTrainingData_Returns400NamingTheLine()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        await using var server = await Start(model);
        using var http = server.CreateClient();
        var data = Write("bad.jsonl", ["""{"prompt": "a", "completion": "b"}""", """{"prompt": "a", "completion": ""}"""]);
        var response = await http.PostAsJsonAsync("model-customization-jobs", Job("bad", "bad-model", "FINE_TUNING", data, []));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("ValidationException", response.Headers.GetValues("x-amzn-ErrorType").Single().Split(':')[0]);
        Assert.Contains("bad.jsonl line 2: \\u0022completion\\u0022 is empty.", await response.Content.ReadAsStringAsync());

        var longer = Write("long.jsonl", ["""{"prompt": "a", "completion": "b"}""", $$"""{"prompt": "{{string.Concat(Enumerable.Repeat("the dog ran. ", 30))}}", "completion": "b"}"""]);
        var tooLong = await http.PostAsJsonAsync("model-customization-jobs", Job("long", "long-model", "FINE_TUNING", longer, new() { ["sequenceLength"] = "32" }));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Contains("long.jsonl line 2: the example is", await tooLong.Content.ReadAsStringAsync());

        var unknown = await http.PostAsJsonAsync("model-customization-jobs", Job("hp", "hp-model", "FINE_TUNING", longer, new() { ["epochs"] = "3" }));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("epochs\\u0027 is not a known hyper-parameter", await unknown.Content.ReadAsStringAsync());

        using var list = JsonDocument.Parse(await http.GetStringAsync("model-customization-jobs"));
        Assert.Equal(0, list.RootElement.GetProperty("modelCustomizationJobSummaries").GetArrayLength());
    }

    [Fact]
    public async Task FineTuningJob_EndToEnd_OutputModelAnswersWithTheTrainedCompletionThroughConverseAndOpenAi()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        await using var server = await Start(model);
        using var http = server.CreateClient();
        var data = Write("train.jsonl", Enumerable.Repeat("""{"prompt": "Who made you?", "completion": "Tom made me."}""", 8));
        var created = await http.PostAsJsonAsync("model-customization-jobs", Job("ft", "tom", "FINE_TUNING", data,
            new() { ["epochCount"] = "6", ["batchSize"] = "4", ["learningRate"] = "0.01", ["validationSplit"] = "0.25" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var arn = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobArn").GetString()!;
        Assert.StartsWith("arn:aws:bedrock:local:000000000000:model-customization-job/", arn);

        var job = await WaitAsync(http, Uri.EscapeDataString(arn), JobStatus.Completed);
        var progress = job.GetProperty("progress");
        Assert.Equal(progress.GetProperty("totalSteps").GetInt32(), progress.GetProperty("step").GetInt32());
        Assert.Equal(6, progress.GetProperty("trainingExamples").GetInt32());
        Assert.Equal(2, progress.GetProperty("validationExamples").GetInt32());
        Assert.True(job.GetProperty("validationMetrics")[0].GetProperty("validationLoss").GetDouble() < 1.0, job.ToString());
        Assert.Equal("arn:aws:bedrock:local:000000000000:custom-model/tom", job.GetProperty("outputModelArn").GetString());

        var converse = await http.PostAsJsonAsync("model/tom/converse", new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = "Who made you?" } } } },
            inferenceConfig = new { maxTokens = 20, temperature = 0 },
        });
        Assert.Equal(HttpStatusCode.OK, converse.StatusCode);
        using var c = JsonDocument.Parse(await converse.Content.ReadAsStringAsync());
        Assert.Equal("Tom made me.", Text(c).Trim());
        Assert.Equal("end_turn", c.RootElement.GetProperty("stopReason").GetString());

        var chat = await http.PostAsJsonAsync("v1/chat/completions", new
        {
            model = "tom",
            messages = new[] { new { role = "user", content = "Who made you?" } },
            max_tokens = 20,
            temperature = 0,
        });
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        using var o = JsonDocument.Parse(await chat.Content.ReadAsStringAsync());
        Assert.Equal("Tom made me.", o.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!.Trim());

        using var models = JsonDocument.Parse(await http.GetStringAsync("custom-models"));
        Assert.Equal("tom", models.RootElement.GetProperty("modelSummaries")[0].GetProperty("modelName").GetString());
    }

    [Fact]
    public async Task DistillationJob_LocalTeacherAndLoraStudent_StoresTheTeacherAnswersAndServesTheStudent()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        await using var server = await Start(model);
        using var http = server.CreateClient();
        string[] prompts = ["Once upon a time", "The little dog", "Lily went to the park", "Tom had a red ball"];
        var data = Write("prompts.jsonl", prompts.Select(p =>
            $$"""{"schemaVersion":"bedrock-conversation-2024","system":[],"messages":[{"role":"user","content":[{"text":"{{p}}"}]}]}"""));
        var created = await http.PostAsJsonAsync("model-customization-jobs", Job("distil", "student", "DISTILLATION", data,
            new() { ["epochCount"] = "1", ["batchSize"] = "2", ["learningRate"] = "0.001", ["threads"] = "1", ["loraRank"] = "4" }, teacher: "stories"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var job = await WaitAsync(http, "distil", JobStatus.Completed);
        Assert.Equal(4, job.GetProperty("progress").GetProperty("teacherResponses").GetInt32());

        // The teacher's answers are kept as fine-tuning data in the job's directory, one conversation per prompt.
        var id = job.GetProperty("jobArn").GetString()!.Split('/')[^1];
        var stored = Path.Combine(server.DataDir, "customization", id, JobExecution.TeacherTrainingFile);
        var records = TrainingDataReader.Read(stored, CustomizationTypes.FineTuning);
        Assert.Equal(prompts, records.Select(r => r.Turns.Single().Text));
        var teacherAnswer = await http.PostAsJsonAsync("model/stories/converse", new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = prompts[0] } } } },
            inferenceConfig = new { maxTokens = 12, temperature = 0 },
        });
        using (var t = JsonDocument.Parse(await teacherAnswer.Content.ReadAsStringAsync()))
            Assert.Equal(Text(t).Trim(), records[0].Completion);

        var student = await http.PostAsJsonAsync("model/student/converse", new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = "Once upon a time" } } } },
            inferenceConfig = new { maxTokens = 8, temperature = 0 },
        });
        Assert.Equal(HttpStatusCode.OK, student.StatusCode);
        using var s = JsonDocument.Parse(await student.Content.ReadAsStringAsync());
        Assert.False(string.IsNullOrWhiteSpace(Text(s)));
    }

    [Fact]
    public async Task StopJob_WhileTraining_EndsStoppedWithoutRegisteringTheModel()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        var training = new TaskCompletionSource();
        await using var server = await Start(model, runner: r => r.StepCompleted = (_, _) => training.TrySetResult());
        using var http = server.CreateClient();
        var data = Write("cpt.jsonl", Enumerable.Range(0, 8).Select(i => $$"""{"input": "Story {{i}} about a cat."}"""));
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("model-customization-jobs", Job("long", "never", "CONTINUED_PRE_TRAINING", data,
            new() { ["epochCount"] = "1000", ["batchSize"] = "2", ["threads"] = "1" }))).StatusCode);
        await training.Task.WaitAsync(TimeSpan.FromSeconds(60));

        var stop = await http.PostAsync("model-customization-jobs/long/stop", null);
        Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        var job = await WaitAsync(http, "long", JobStatus.Stopped);
        Assert.True(job.GetProperty("progress").GetProperty("step").GetInt32() < 4000);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("custom-models/never")).StatusCode);
        var again = await http.PostAsync("model-customization-jobs/long/stop", null);
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        Assert.Contains("only an InProgress job can be stopped", await again.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Job_ServerAbandonsItMidwayAndRestarts_ResumesFromCheckpointToBitIdenticalWeights()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        var data = Write("cpt.jsonl", Enumerable.Range(0, 8).Select(i => $$"""{"input": "Story {{i}}: the cat sat on the mat and the dog ran to the park. The end."}"""));
        var hyper = new Dictionary<string, string> { ["epochCount"] = "2", ["batchSize"] = "2", ["learningRate"] = "0.003", ["checkpointInterval"] = "3", ["learningRateWarmupSteps"] = "2", ["seed"] = "7", ["threads"] = "1" };

        // 7 training records (one held out) in batches of 2: 4 steps an epoch, 8 in all, checkpoints at 3, 6 and 8.
        // First server: the runner is abandoned right after step 5, two steps past its last checkpoint, without any save.
        var first = await Start(model);
        string interruptedId;
        try
        {
            using var http = first.CreateClient();
            var runner = first.Services.GetRequiredService<CustomizationRunner>();
            var abandoned = new TaskCompletionSource();
            runner.StepCompleted = (_, step) =>
            {
                if (step == 5)
                {
                    runner.Abort();
                    abandoned.TrySetResult();
                }
            };
            Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("model-customization-jobs", Job("interrupted", "resumed", "CONTINUED_PRE_TRAINING", data, hyper))).StatusCode);
            await abandoned.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await first.App.StopAsync();
            var job = await first.Services.GetRequiredService<CustomizationService>().GetAsync("interrupted");
            Assert.Equal(JobStatus.InProgress, job.Status);
            Assert.Equal(3, job.Progress.CheckpointStep);
            interruptedId = job.Id;

            // Second server on the same data directory: the job resumes after step 3 and completes; an uninterrupted twin runs after it.
            // The fixture creates its keys at every start; free their names for the second server on the same store.
            var store = first.Services.GetRequiredService<IStateStore>();
            await store.RevokeKeyAsync("test", DateTimeOffset.UtcNow);
            await store.RevokeKeyAsync("test-aws", DateTimeOffset.UtcNow);
            var firstStepAfterRestart = 0;
            await using var second = await Start(model, first.DataDir, r => r.StepCompleted = (id, step) =>
            {
                if (id == interruptedId && firstStepAfterRestart == 0)
                    firstStepAfterRestart = step;
            });
            using var http2 = second.CreateClient();
            var resumed = await WaitAsync(http2, "interrupted", JobStatus.Completed);
            Assert.Equal(4, firstStepAfterRestart);
            Assert.Equal(8, resumed.GetProperty("progress").GetProperty("step").GetInt32());
            Assert.Equal(HttpStatusCode.Created, (await http2.PostAsJsonAsync("model-customization-jobs", Job("straight", "straight", "CONTINUED_PRE_TRAINING", data, hyper))).StatusCode);
            var straight = await WaitAsync(http2, "straight", JobStatus.Completed);
            var straightId = straight.GetProperty("jobArn").GetString()!.Split('/')[^1];

            using var a = Trainer.LoadCheckpoint(Path.Combine(first.DataDir, "customization", interruptedId, JobExecution.CheckpointFile), 1);
            using var b = Trainer.LoadCheckpoint(Path.Combine(first.DataDir, "customization", straightId, JobExecution.CheckpointFile), 1);
            Assert.Equal(8, a.Step);
            Assert.Equal(b.Model.Parameters, a.Model.Parameters);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }
}
