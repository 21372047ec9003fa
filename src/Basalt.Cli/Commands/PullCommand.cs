using System.CommandLine;
using System.Globalization;
using Basalt.Engine.Store;
using Spectre.Console;

namespace Basalt.Cli.Commands;

/// <summary>`basalt pull OWNER/REPO[:FILE.gguf]`: downloads a GGUF from a Hugging Face hub into the model store.</summary>
internal static class PullCommand
{
    /// <summary>Without a terminal, a progress line is printed at most every this many percent.</summary>
    private const int PlainProgressStepPercent = 10;

    public static Command Create()
    {
        var reference = new Argument<string>("model") { Description = "OWNER/REPO[:FILE.gguf]; without FILE the repo's only .gguf (or its Q4_K_M one) is pulled." };
        var modelsDir = ModelsCommand.ModelsDirOption();
        var endpoint = new Option<string?>("--endpoint") { Description = $"Hub URL (default: $HF_ENDPOINT, then {ModelPuller.DefaultEndpoint})." };
        var command = new Command("pull", "Download a GGUF model from Hugging Face into the model store (resumable; $HF_TOKEN for gated repos).")
        {
            reference, modelsDir, endpoint,
        };
        command.SetAction((parse, ct) =>
        {
            string dir;
            try
            {
                dir = ModelsCommand.Directory(parse.GetValue(modelsDir));
            }
            catch (InvalidDataException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return Task.FromResult(2);
            }
            return RunAsync(parse.GetRequiredValue(reference), dir,
                ModelPuller.ResolveEndpoint(parse.GetValue(endpoint)), Environment.GetEnvironmentVariable("HF_TOKEN"),
                parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error,
                interactive: !Console.IsOutputRedirected && ReferenceEquals(parse.InvocationConfiguration.Output, Console.Out), ct);
        });
        return command;
    }

    /// <summary>Pulls and registers the model; returns the exit code (0, 1 on failure, 130 when interrupted).</summary>
    internal static async Task<int> RunAsync(string text, string modelsDir, string endpoint, string? token,
        TextWriter output, TextWriter error, bool interactive, CancellationToken ct)
    {
        ModelReference reference;
        try
        {
            reference = ModelReference.Parse(text);
        }
        catch (FormatException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
        using var http = ModelPuller.CreateHttpClient();
        try
        {
            var puller = new ModelPuller(new ModelStore(modelsDir), http, endpoint, token);
            StoredModel model;
            if (interactive)
            {
                model = await AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                        new TransferSpeedColumn(), new RemainingTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        var task = ctx.AddTask(reference.File ?? reference.RepoId, autoStart: true, maxValue: 1);
                        task.IsIndeterminate = true;
                        return await puller.PullAsync(reference, new ProgressCallback(p =>
                        {
                            if (p.Total is { } total)
                            {
                                task.IsIndeterminate = false;
                                task.MaxValue = total;
                            }
                            task.Description = p.File;
                            task.Value = p.Received;
                        }), ct).ConfigureAwait(false);
                    }).ConfigureAwait(false);
            }
            else
            {
                var lastStep = -1;
                var started = DateTime.UtcNow;
                model = await puller.PullAsync(reference, new ProgressCallback(p =>
                {
                    if (p.Received == p.ResumedFrom && lastStep < 0 && p.ResumedFrom > 0)
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"resuming {p.File} at {Bytes(p.ResumedFrom)}"));
                    if (p.Total is not { } total || total == 0)
                        return;
                    var step = (int)(p.Received * 100 / total) / PlainProgressStepPercent;
                    if (step <= lastStep)
                        return;
                    lastStep = step;
                    var seconds = Math.Max((DateTime.UtcNow - started).TotalSeconds, 1e-3);
                    var rate = (p.Received - p.ResumedFrom) / seconds;
                    var eta = rate > 0 ? TimeSpan.FromSeconds((total - p.Received) / rate) : TimeSpan.Zero;
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{p.File}: {Bytes(p.Received)} / {Bytes(total)} ({p.Received * 100 / total}%), {Bytes((long)rate)}/s, ETA {eta:hh\\:mm\\:ss}"));
                }), ct).ConfigureAwait(false);
            }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"pulled {model.Name} ({Bytes(model.Size)}, {model.Architecture}, {model.Quantization}) sha256 {model.Sha256}"));
            output.WriteLine($"  {model.Path}");
            output.WriteLine($"serve it: basalt serve --model NAME={model.Name}");
            return 0;
        }
        catch (ModelPullException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            error.WriteLine($"interrupted: the bytes received are kept in a .partial file under {modelsDir}; run the same command again to resume.");
            return 130;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to a sync context and reorder reports).</summary>
    private sealed class ProgressCallback(Action<PullProgress> report) : IProgress<PullProgress>
    {
        public void Report(PullProgress value) => report(value);
    }

    internal static string Bytes(long n) => n switch
    {
        >= 1L << 30 => (n / (double)(1L << 30)).ToString("0.00 'GiB'", CultureInfo.InvariantCulture),
        >= 1L << 20 => (n / (double)(1L << 20)).ToString("0.0 'MiB'", CultureInfo.InvariantCulture),
        >= 1L << 10 => (n / 1024.0).ToString("0.0 'KiB'", CultureInfo.InvariantCulture),
        _ => n.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
