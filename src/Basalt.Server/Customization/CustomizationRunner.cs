using Basalt.Core.Conversation;
using Basalt.Engine.Gguf;
using Basalt.Engine.Training;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Basalt.Server.Customization;

/// <summary>Runs customization jobs in the background, one at a time, oldest first. A job checkpoints every
/// checkpointInterval steps; after a crash or restart the runner resumes every InProgress job from its last checkpoint, and
/// because batches are a pure function of the step and the trainer is deterministic, the result is bit-identical to an
/// uninterrupted run. A shutdown does not save: like a crash, it loses at most one checkpoint interval.</summary>
public sealed partial class CustomizationRunner : BackgroundService
{
    /// <summary>Most often progress is written to the store.</summary>
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often the queue is polled when nothing signals (jobs created by another process on a shared store).</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);

    private readonly CustomizationService _service;
    private readonly CustomModels _models;
    private readonly Func<Gateway> _gateway;
    private readonly TimeProvider _time;
    private readonly ILogger<CustomizationRunner> _logger;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly object _gate = new();
    private CancellationTokenSource? _abort;

    /// <summary>Creates the runner; <paramref name="gateway"/> gives the gateway distillation asks teachers through.</summary>
    public CustomizationRunner(CustomizationService service, CustomModels models, Func<Gateway> gateway, TimeProvider time, ILogger<CustomizationRunner> logger)
    {
        _service = service;
        _models = models;
        _gateway = gateway;
        _time = time;
        _logger = logger;
        service.Changed += () => _wake.Release();
    }

    /// <summary>Called after every training step with the job id and the step done (tests use it to interrupt a job at a
    /// known step).</summary>
    internal Action<string, int>? StepCompleted { get; set; }

    /// <summary>Abandons the running job without saving anything, as a crash would; it stays InProgress and resumes from its
    /// last checkpoint when a runner starts again.</summary>
    internal void Abort()
    {
        lock (_gate)
            _abort?.Cancel();
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let the server finish starting before a resumed job takes the CPU.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            CustomizationJob? next = null;
            try
            {
                next = (await _service.ListAsync(stoppingToken)).FirstOrDefault(j => j.Status is JobStatus.InProgress or JobStatus.Stopping);
                if (next is not null)
                    await RunAsync(next, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Log.RunnerError(_logger, next?.Name ?? "", e);
                if (next is not null)
                    await FailAsync(next.Id, e.Message);
            }
            if (next is null)
            {
                try
                {
                    await _wake.WaitAsync(PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task RunAsync(CustomizationJob job, CancellationToken stoppingToken)
    {
        if (job.Status == JobStatus.Stopping)
        {
            await FinishAsync(job.Id, j => j with { Status = JobStatus.Stopped, StatusDetails = "Stopped", EndTime = _time.GetUtcNow() });
            return;
        }
        using var stop = new CancellationTokenSource();
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        lock (_gate)
            _abort = abort;
        var watcher = WatchForStopAsync(job.Id, stop, abort.Token);
        try
        {
            Log.JobStarted(_logger, job.Name, job.Id, job.CustomizationType);
            var execution = new JobExecution(this, job);
            await execution.RunAsync(stop.Token, abort.Token);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            Log.JobAbandoned(_logger, job.Name);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await FinishAsync(job.Id, j => j with { Status = JobStatus.Stopped, StatusDetails = "Stopped", EndTime = _time.GetUtcNow() });
            Log.JobStopped(_logger, job.Name);
        }
        catch (Exception e) when (e is TrainingDataException or BasaltException or ArgumentException or InvalidDataException or GgufFormatException or IOException)
        {
            Log.JobFailed(_logger, job.Name, e.Message);
            await FailAsync(job.Id, e.Message);
        }
        finally
        {
            lock (_gate)
                _abort = null;
            abort.Cancel();
            await watcher;
        }
    }

    /// <summary>Polls the running job's status so a stop requested through another server or the CLI is seen.</summary>
    private async Task WatchForStopAsync(string jobId, CancellationTokenSource stop, CancellationToken done)
    {
        try
        {
            while (!done.IsCancellationRequested)
            {
                await _wake.WaitAsync(ProgressInterval, done).ConfigureAwait(false);
                var job = await _service.GetAsync(jobId, done).ConfigureAwait(false);
                if (job.Status == JobStatus.Stopping)
                {
                    stop.Cancel();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Log.RunnerError(_logger, jobId, e);
        }
    }

    /// <summary>Re-reads the job and applies <paramref name="change"/>, keeping a stop that arrived meanwhile.</summary>
    internal async Task<CustomizationJob> UpdateAsync(string jobId, Func<CustomizationJob, CustomizationJob> change)
    {
        var current = await _service.GetAsync(jobId);
        var next = change(current) with { LastModifiedTime = _time.GetUtcNow() };
        if (current.Status == JobStatus.Stopping && next.Status == JobStatus.InProgress)
            next = next with { Status = JobStatus.Stopping };
        await _service.SaveAsync(next);
        return next;
    }

    private async Task FinishAsync(string jobId, Func<CustomizationJob, CustomizationJob> change)
        => await _service.SaveAsync(change(await _service.GetAsync(jobId)) with { LastModifiedTime = _time.GetUtcNow() });

    private async Task FailAsync(string jobId, string message)
    {
        try
        {
            var job = await _service.GetAsync(jobId);
            await _service.SaveAsync(job with { Status = JobStatus.Failed, StatusDetails = "Failed", FailureMessage = message, EndTime = _time.GetUtcNow(), LastModifiedTime = _time.GetUtcNow() });
        }
        catch (Exception e)
        {
            Log.RunnerError(_logger, jobId, e);
        }
    }

    internal CustomizationService Service => _service;
    internal CustomModels Models => _models;
    internal Gateway Gateway => _gateway();
    internal TimeProvider Time => _time;
    internal ILogger Logger => _logger;

    private static partial class Log
    {
        [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Customization job {Name} ({Id}, {Type}) started")]
        public static partial void JobStarted(ILogger logger, string name, string id, string type);

        [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Customization job {Name} stopped by request")]
        public static partial void JobStopped(ILogger logger, string name);

        [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Customization job {Name} failed: {Message}")]
        public static partial void JobFailed(ILogger logger, string name, string message);

        [LoggerMessage(EventId = 6004, Level = LogLevel.Information, Message = "Customization job {Name} abandoned at its last checkpoint (server stopping or runner aborted); it resumes on the next start")]
        public static partial void JobAbandoned(ILogger logger, string name);

        [LoggerMessage(EventId = 6005, Level = LogLevel.Error, Message = "Customization runner error on {Name}")]
        public static partial void RunnerError(ILogger logger, string name, Exception exception);
    }
}
