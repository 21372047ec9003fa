using System.Diagnostics;
using System.Text;
using Basalt.Core.Conversation;
using Basalt.Engine.Gguf;
using Basalt.Engine.Training;

namespace Basalt.Server.Customization;

/// <summary>One run of one job: distillation data collection, tokenization, the split, training with checkpoints, export and
/// registration. Every input to training (examples, split, batch order) is a pure function of the job, so a run resumed from a
/// checkpoint continues exactly where the interrupted one was.</summary>
internal sealed class JobExecution(CustomizationRunner runner, CustomizationJob job)
{
    /// <summary>File name of the job's checkpoint in its directory.</summary>
    public const string CheckpointFile = "checkpoint.gguf";

    /// <summary>File name of the teacher's answers to the training prompts (bedrock-conversation-2024 records, reusable as
    /// fine-tuning data).</summary>
    public const string TeacherTrainingFile = "teacher-responses.jsonl";

    /// <summary>File name of the teacher's answers to the validation prompts.</summary>
    public const string TeacherValidationFile = "teacher-validation.jsonl";

    /// <summary>Most tokens of a teacher answer when the job sets none.</summary>
    public const int DefaultTeacherTokens = 256;

    /// <summary>Parameters up to which the model is exported in F32 (exact); larger ones in F16 (half the size).</summary>
    public const long F32ExportLimit = 50_000_000;

    private readonly string _directory = runner.Service.JobDirectory(job.Id);

    public async Task RunAsync(CancellationToken stop, CancellationToken abort)
    {
        Directory.CreateDirectory(_directory);
        var hyper = JobHyperParameters.Parse(job.HyperParameters);
        var basePath = runner.Service.ResolveBaseModel(job.BaseModel, await runner.Models.FindAsync(job.BaseModel, abort));

        var trainingRecords = TrainingDataReader.Read(job.TrainingDataUri, job.CustomizationType);
        var validationRecords = job.ValidationDataUri is null ? null : TrainingDataReader.Read(job.ValidationDataUri, job.CustomizationType);
        var trainingName = Path.GetFileName(job.TrainingDataUri);
        var validationName = job.ValidationDataUri is null ? trainingName : Path.GetFileName(job.ValidationDataUri);
        if (job.CustomizationType == CustomizationTypes.Distillation)
        {
            trainingRecords = await AskTeacherAsync(trainingRecords, TeacherTrainingFile, 0, stop, abort);
            if (validationRecords is not null)
                validationRecords = await AskTeacherAsync(validationRecords, TeacherValidationFile, trainingRecords.Count, stop, abort);
            trainingName = TeacherTrainingFile;
            validationName = validationRecords is null ? trainingName : TeacherValidationFile;
        }

        await runner.UpdateAsync(job.Id, j => j with { StatusDetails = "Preparing" });
        var tokenization = TrainingTokenization.FromGguf(basePath);
        var checkpoint = Path.Combine(_directory, CheckpointFile);
        var resumed = File.Exists(checkpoint);
        var threads = hyper.Threads > 0 ? hyper.Threads : Environment.ProcessorCount;
        Trainer? trainer = null;
        try
        {
            TrainableModel? model = null;
            int sequence;
            if (resumed)
            {
                trainer = Trainer.LoadCheckpoint(checkpoint, threads);
                sequence = trainer.Options.SequenceLength;
            }
            else
            {
                model = TrainableModel.FromGguf(basePath);
                sequence = hyper.SequenceLength > 0 ? hyper.SequenceLength : tokenization.DefaultSequenceLimit;
            }
            var (train, validation) = Split(tokenization, trainingRecords, validationRecords, sequence, hyper, trainingName, validationName);
            if (trainer is null && hyper.SequenceLength == 0)
            {
                // The trainer computes every position up to its sequence length, so a default sized to the longest example
                // (rather than the whole context) keeps short-example jobs fast. A resumed job reads it from its checkpoint.
                var longest = 1;
                foreach (var e in train.Concat(validation))
                    longest = Math.Max(longest, e.Tokens.Length - 1);
                sequence = Math.Max(2, longest);
            }
            if (train.Count == 0)
                throw new TrainingDataException(trainingName, 0, "no examples are left for training after the validation split.");
            var perEpoch = (train.Count + hyper.BatchSize - 1) / hyper.BatchSize;
            if (trainer is null)
            {
                var total = perEpoch * hyper.EpochCount;
                if (hyper.MaxSteps > 0)
                    total = Math.Min(total, hyper.MaxSteps);
                model!.Name = job.OutputModelName;
                trainer = new Trainer(model, new TrainingOptions
                {
                    LearningRate = hyper.LearningRate,
                    MinLearningRate = hyper.LearningRate / 10,
                    WarmupSteps = hyper.WarmupSteps,
                    TotalSteps = Math.Max(1, total),
                    BatchSize = hyper.BatchSize,
                    SequenceLength = sequence,
                    WeightDecay = hyper.WeightDecay,
                    Seed = hyper.Seed,
                    LoraRank = hyper.LoraRank,
                    LoraAlpha = hyper.LoraAlpha,
                    Threads = threads,
                });
            }
            var teacherResponses = job.CustomizationType == CustomizationTypes.Distillation ? trainingRecords.Count + (validationRecords?.Count ?? 0) : 0;
            await TrainAsync(trainer, train, validation, perEpoch, hyper, resumed, teacherResponses, stop, abort);
        }
        finally
        {
            trainer?.Dispose();
        }
    }

    private async Task TrainAsync(Trainer trainer, List<TrainingExample> train, List<TrainingExample> validation, int perEpoch,
        JobHyperParameters hyper, bool resumed, int teacherResponses, CancellationToken stop, CancellationToken abort)
    {
        var options = trainer.Options;
        var total = options.TotalSteps;
        var checkpoint = Path.Combine(_directory, CheckpointFile);
        var progress = new JobProgress
        {
            Step = trainer.Step,
            TotalSteps = total,
            Epoch = Math.Min(hyper.EpochCount, trainer.Step / perEpoch + 1),
            TrainingExamples = train.Count,
            ValidationExamples = validation.Count,
            CheckpointStep = resumed ? trainer.Step : 0,
            TeacherResponses = teacherResponses,
        };
        await runner.UpdateAsync(job.Id, j => j with { StatusDetails = resumed ? $"Training (resumed at step {progress.Step})" : "Training", Progress = progress });

        var lastSave = Stopwatch.GetTimestamp();
        var windowStart = Stopwatch.GetTimestamp();
        long windowTokens = 0;
        var windowSteps = 0;
        var tokensPerSecond = progress.TokensPerSecond;
        var stepSeconds = 0.0;
        var batch = new List<TrainingExample>(options.BatchSize);
        while (trainer.Step < total)
        {
            abort.ThrowIfCancellationRequested();
            stop.ThrowIfCancellationRequested();
            var step = trainer.Step;
            Batch(train, step, perEpoch, options.BatchSize, hyper.Seed, batch);
            var result = await Task.Run(() => trainer.TrainStep(batch), CancellationToken.None);
            // Counted tokens are the loss tokens; the forward pass also reads the prompt, so throughput counts every input token.
            foreach (var e in batch)
                windowTokens += e.Tokens.Length - 1;
            windowSteps++;
            runner.StepCompleted?.Invoke(job.Id, trainer.Step);
            if (abort.IsCancellationRequested)
                abort.ThrowIfCancellationRequested();

            var atCheckpoint = trainer.Step % hyper.CheckpointInterval == 0 || trainer.Step == total;
            double? validationLoss = progress.ValidationLoss;
            if (atCheckpoint)
            {
                if (validation.Count > 0)
                    validationLoss = await Task.Run(() => trainer.Evaluate(validation), CancellationToken.None);
                await Task.Run(() => trainer.SaveCheckpoint(checkpoint), CancellationToken.None);
            }
            var elapsed = Stopwatch.GetElapsedTime(windowStart).TotalSeconds;
            if (elapsed > 0.5 || trainer.Step == total)
            {
                tokensPerSecond = elapsed > 0 ? windowTokens / elapsed : tokensPerSecond;
                stepSeconds = elapsed / Math.Max(1, windowSteps);
                windowStart = Stopwatch.GetTimestamp();
                windowTokens = 0;
                windowSteps = 0;
            }
            progress = progress with
            {
                Step = trainer.Step,
                Epoch = Math.Min(hyper.EpochCount, (trainer.Step - 1) / perEpoch + 1),
                TrainingLoss = result.Loss,
                ValidationLoss = validationLoss,
                TokensPerSecond = tokensPerSecond,
                EtaSeconds = stepSeconds * (total - trainer.Step),
                CheckpointStep = atCheckpoint ? trainer.Step : progress.CheckpointStep,
            };
            if (atCheckpoint || Stopwatch.GetElapsedTime(lastSave) >= TimeSpan.FromSeconds(1))
            {
                var p = progress;
                await runner.UpdateAsync(job.Id, j => j with { Progress = p });
                lastSave = Stopwatch.GetTimestamp();
            }
        }

        await runner.UpdateAsync(job.Id, j => j with { StatusDetails = "Exporting" });
        var output = runner.Service.ModelPath(job.OutputModelName);
        var type = trainer.Model.ParameterCount <= F32ExportLimit ? GgmlType.F32 : GgmlType.F16;
        trainer.Model.Name = job.OutputModelName;
        await Task.Run(() => trainer.Model.ExportGguf(output, type), CancellationToken.None);
        var final = progress;
        await runner.Models.RegisterAsync(new CustomModelRecord
        {
            Name = job.OutputModelName,
            Path = output,
            JobId = job.Id,
            JobName = job.Name,
            BaseModel = job.BaseModel,
            CustomizationType = job.CustomizationType,
            HyperParameters = job.HyperParameters,
            ContextWindow = trainer.Model.Shape.ContextLength,
            TrainingLoss = final.TrainingLoss,
            ValidationLoss = final.ValidationLoss,
            CreationTime = runner.Time.GetUtcNow(),
        });
        await runner.UpdateAsync(job.Id, j => j with { Status = JobStatus.Completed, StatusDetails = "Completed", EndTime = runner.Time.GetUtcNow(), Progress = final });
    }

    /// <summary>Tokenizes and splits: the validation file when there is one, else a seeded share of the training records.</summary>
    private static (List<TrainingExample> Train, List<TrainingExample> Validation) Split(TrainingTokenization tokenization, IReadOnlyList<TrainingRecord> training,
        IReadOnlyList<TrainingRecord>? validation, int sequence, JobHyperParameters hyper, string trainingName, string validationName)
    {
        if (validation is not null)
            return (tokenization.Tokenize(training, sequence, trainingName), tokenization.Tokenize(validation, sequence, validationName));
        var held = hyper.ValidationSplit > 0 && training.Count >= 2 ? Math.Max(1, (int)(training.Count * hyper.ValidationSplit)) : 0;
        var order = Enumerable.Range(0, training.Count).ToArray();
        new Random(hyper.Seed).Shuffle(order);
        var heldOut = order.Take(held).ToHashSet();
        var trainRecords = new List<TrainingRecord>();
        var validationRecords = new List<TrainingRecord>();
        for (var i = 0; i < training.Count; i++)
            (heldOut.Contains(i) ? validationRecords : trainRecords).Add(training[i]);
        return (tokenization.Tokenize(trainRecords, sequence, trainingName), tokenization.Tokenize(validationRecords, sequence, trainingName));
    }

    /// <summary>The batch of <paramref name="step"/>: epoch e visits the examples in a seeded shuffle of its own, so the batch is a
    /// function of the step alone (what makes a resumed run identical to an uninterrupted one).</summary>
    internal static void Batch(IReadOnlyList<TrainingExample> train, int step, int perEpoch, int batchSize, int seed, List<TrainingExample> batch)
    {
        var epoch = step / perEpoch;
        var order = Enumerable.Range(0, train.Count).ToArray();
        // A seeded Random, not HashCode (seeded per process): the order must be the same after a restart.
        new Random(unchecked(seed * 1_000_003 + epoch) & int.MaxValue).Shuffle(order);
        batch.Clear();
        var start = (step % perEpoch) * batchSize;
        for (var i = start; i < Math.Min(start + batchSize, train.Count); i++)
            batch.Add(train[order[i]]);
    }

    /// <summary>Sends each prompt to the teacher through the gateway (a local or remote model Basalt serves) and appends its
    /// answers to <paramref name="fileName"/> in the job directory; answers already there (a resumed job) are reused.</summary>
    private async Task<IReadOnlyList<TrainingRecord>> AskTeacherAsync(IReadOnlyList<TrainingRecord> prompts, string fileName, int alreadyCounted, CancellationToken stop, CancellationToken abort)
    {
        var path = Path.Combine(_directory, fileName);
        var answered = new List<TrainingRecord>();
        if (File.Exists(path))
        {
            var lines = await File.ReadAllLinesAsync(path, abort);
            // A line cut by a crash is dropped and asked again.
            for (var i = 0; i < lines.Length && i < prompts.Count; i++)
            {
                try
                {
                    answered.Add(TrainingDataReader.Parse(fileName, i + 1, lines[i], CustomizationTypes.FineTuning) with { Line = prompts[i].Line });
                }
                catch (TrainingDataException)
                {
                    break;
                }
            }
            await File.WriteAllLinesAsync(path, answered.Select(TrainingDataReader.ToConversationJson), abort);
        }
        var maxTokens = job.TeacherMaxResponseTokens ?? DefaultTeacherTokens;
        var gateway = runner.Gateway;
        await using var writer = new StreamWriter(path, append: true, new UTF8Encoding(false));
        var lastUpdate = Stopwatch.GetTimestamp();
        for (var i = answered.Count; i < prompts.Count; i++)
        {
            stop.ThrowIfCancellationRequested();
            abort.ThrowIfCancellationRequested();
            var p = prompts[i];
            var request = new ConverseRequest
            {
                ModelId = job.TeacherModel!,
                System = p.System is null ? [] : [new TextBlock(p.System)],
                Messages = p.Turns.Select(t => new Message(t.Role == "assistant" ? ConversationRole.Assistant : ConversationRole.User, [new TextBlock(t.Text)])).ToList(),
                InferenceConfig = new InferenceConfig { MaxTokens = maxTokens, Temperature = 0 },
            };
            ConverseResponse response;
            try
            {
                response = await gateway.Client.ConverseAsync(request, abort);
            }
            catch (BasaltException e)
            {
                throw new BasaltException(e.Kind, $"The teacher '{job.TeacherModel}' failed on line {p.Line} of the prompts: {e.Message}", e);
            }
            var text = string.Concat(response.Output.Content.OfType<TextBlock>().Select(b => b.Text)).Trim();
            if (text.Length == 0)
                throw new BasaltException(ErrorKind.ModelError, $"The teacher '{job.TeacherModel}' gave an empty answer to line {p.Line} of the prompts.");
            var record = p with { Completion = text };
            await writer.WriteLineAsync(TrainingDataReader.ToConversationJson(record));
            await writer.FlushAsync(abort);
            answered.Add(record);
            if (Stopwatch.GetElapsedTime(lastUpdate) >= TimeSpan.FromSeconds(1) || i == prompts.Count - 1)
            {
                var count = alreadyCounted + answered.Count;
                await runner.UpdateAsync(job.Id, j => j with
                {
                    StatusDetails = $"Collecting teacher responses ({count})",
                    Progress = j.Progress with { TeacherResponses = count },
                });
                lastUpdate = Stopwatch.GetTimestamp();
            }
        }
        return answered;
    }
}
