using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Basalt.Engine.Generation;
using Basalt.Engine.Gguf;
using Basalt.Engine.Models;

namespace Basalt.Cli.Commands;

/// <summary>`basalt bench FILE`: measures prompt processing and decoding speed of the local engine on one model;
/// `basalt bench --make-model SHAPE --type TYPE --out FILE` writes a random-weight model of a real shape to measure.</summary>
internal static class BenchCommand
{
    /// <summary>The figures of one run.</summary>
    internal sealed record Report(
        string Model, string Architecture, long WeightBytes, int Threads, int PromptTokens, int GeneratedTokens,
        double LoadMs, double PromptTokensPerSecond, double TimeToFirstTokenMs, double DecodeTokensPerSecond,
        double PromptTokensPerCpuSecond, double DecodeTokensPerCpuSecond,
        long PeakWorkingSetBytes, long ManagedHeapBytes, long BytesAllocatedWhileDecoding);

    public static Command Create()
    {
        var file = new Argument<string?>("file") { Description = "Path of the .gguf model to measure.", Arity = ArgumentArity.ZeroOrOne };
        var threads = new Option<int?>("--threads") { Description = "Threads for the forward pass (default: all processors)." };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length.", DefaultValueFactory = _ => 64 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens to generate.", DefaultValueFactory = _ => 32 };
        var json = new Option<bool>("--json") { Description = "Print the figures as JSON." };
        var makeModel = new Option<string?>("--make-model") { Description = "Write a random-weight model instead: smollm2-135m or llama-1b." };
        var type = new Option<string>("--type") { Description = "Tensor types for --make-model: F32, F16, BF16, Q8_0, Q4_0, Q4_K_M.", DefaultValueFactory = _ => "Q8_0" };
        var output = new Option<string?>("--out") { Description = "Where --make-model writes the model." };
        var train = new Option<string?>("--train") { Description = "Measure training tokens/s instead, on a random model of this shape: basalt-tiny or smollm2-135m." };
        var trainSteps = new Option<int>("--train-steps") { Description = "Timed training steps for --train.", DefaultValueFactory = _ => 3 };
        var trainBatch = new Option<int>("--train-batch") { Description = "Sequences per step for --train.", DefaultValueFactory = _ => 1 };
        var trainSeq = new Option<int>("--train-seq") { Description = "Tokens per sequence for --train.", DefaultValueFactory = _ => 64 };
        var command = new Command("bench", "Measure the local engine's speed on a GGUF model, or write a random-weight model to measure.")
        {
            file, threads, promptTokens, genTokens, json, makeModel, type, output, train, trainSteps, trainBatch, trainSeq,
        };
        command.SetAction(parse =>
        {
            var o = parse.InvocationConfiguration.Output;
            var e = parse.InvocationConfiguration.Error;
            if (parse.GetValue(train) is { } trainShape)
                return TrainingBench.Run(trainShape, parse.GetValue(threads) ?? 2, parse.GetValue(trainSteps), parse.GetValue(trainBatch), parse.GetValue(trainSeq), o, e);
            if (parse.GetValue(makeModel) is { } shape)
                return MakeModel(shape, parse.GetValue(type)!, parse.GetValue(output), o, e);
            if (parse.GetValue(file) is not { } path)
            {
                e.WriteLine("error: give a model FILE to measure, or --make-model SHAPE --type TYPE --out FILE.");
                return 2;
            }
            return Measure(path, parse.GetValue(threads), parse.GetValue(promptTokens), parse.GetValue(genTokens), parse.GetValue(json), o, e);
        });
        return command;
    }

    internal static int MakeModel(string shapeName, string type, string? path, TextWriter output, TextWriter error)
    {
        if (ModelShape.Named(shapeName) is not { } shape)
        {
            error.WriteLine($"error: unknown shape '{shapeName}'; use smollm2-135m or llama-1b.");
            return 2;
        }
        if (path is null)
        {
            error.WriteLine("error: --make-model needs --out FILE.");
            return 2;
        }
        Func<string, GgmlType> policy;
        try
        {
            policy = RandomModel.TypePolicy(type, shape);
        }
        catch (ArgumentException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
        var timer = Stopwatch.StartNew();
        try
        {
            RandomModel.Write(path, shape, policy, seed: 1);
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: cannot write {path}: {e.Message}");
            return 1;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {path}: {shapeName} {type.ToUpperInvariant()}, {new FileInfo(path).Length / 1048576.0:F1} MiB, in {timer.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    internal static int Measure(string path, int? threads, int promptTokens, int genTokens, bool json, TextWriter output, TextWriter error)
    {
        if (promptTokens < 1 || genTokens < 1 || threads is < 1)
        {
            error.WriteLine("error: --prompt-tokens, --gen-tokens and --threads must be at least 1.");
            return 2;
        }
        var loadTimer = Stopwatch.StartNew();
        LanguageModel model;
        try
        {
            model = LanguageModel.Load(path, new ModelLoadOptions { Threads = threads, MaxContextLength = promptTokens + genTokens });
        }
        catch (Exception e) when (e is GgufFormatException or GgufMetadataException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            error.WriteLine($"error: cannot load {path}: {e.Message}");
            return 1;
        }
        using (model)
        {
            var loadMs = loadTimer.Elapsed.TotalMilliseconds;
            if (promptTokens + genTokens > model.ContextLength)
            {
                error.WriteLine($"error: {promptTokens} + {genTokens} tokens exceed the model's context of {model.ContextLength}.");
                return 2;
            }
            // The engine's own forward loop, without sampling or detokenizing: what is measured is the model.
            var ctx = new ForwardContext(model.Transformer, promptTokens + genTokens, model.Pool);
            var vocab = model.Config.VocabSize;
            var rng = new Rng(42);
            var prompt = new int[promptTokens];
            prompt[0] = model.Tokenizer.BosId;
            for (var i = 1; i < promptTokens; i++)
                prompt[i] = (int)(rng.NextUInt64() % (ulong)vocab);

            // Warm-up: one token through every layer so the JIT has compiled the hot paths (not counted).
            model.Transformer.Forward(ctx, prompt[0], 0, computeLogits: true);

            // CPU time beside wall time: on a shared machine the wall-clock rates swing with other load, CPU seconds much less.
            using var process = Process.GetCurrentProcess();
            var cpuStart = process.TotalProcessorTime;
            var timer = Stopwatch.StartNew();
            for (var pos = 0; pos < promptTokens; pos++)
                model.Transformer.Forward(ctx, prompt[pos], pos, computeLogits: pos == promptTokens - 1);
            var next = Sampler.ArgMax(ctx.State.Logits);
            var promptSeconds = timer.Elapsed.TotalSeconds;
            process.Refresh();
            var cpuAfterPrompt = process.TotalProcessorTime;
            var promptCpu = (cpuAfterPrompt - cpuStart).TotalSeconds;

            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            timer.Restart();
            for (var i = 1; i < genTokens; i++)
            {
                model.Transformer.Forward(ctx, next, promptTokens + i - 1, computeLogits: true);
                next = Sampler.ArgMax(ctx.State.Logits);
            }
            var decodeSeconds = timer.Elapsed.TotalSeconds;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            process.Refresh();
            var decodeCpu = (process.TotalProcessorTime - cpuAfterPrompt).TotalSeconds;
            var report = new Report(
                Path.GetFileName(path), model.Architecture, model.WeightBytes, model.Threads, promptTokens, genTokens,
                Math.Round(loadMs, 1),
                Math.Round(promptTokens / promptSeconds, 2),
                Math.Round(promptSeconds * 1000, 1),
                genTokens > 1 ? Math.Round((genTokens - 1) / decodeSeconds, 2) : 0,
                Math.Round(promptTokens / Math.Max(promptCpu, 1e-6), 2),
                genTokens > 1 ? Math.Round((genTokens - 1) / Math.Max(decodeCpu, 1e-6), 2) : 0,
                process.PeakWorkingSet64,
                GC.GetGCMemoryInfo().HeapSizeBytes,
                allocated);
            if (json)
                output.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            else
            {
                var inv = CultureInfo.InvariantCulture;
                output.WriteLine(string.Create(inv, $"model:        {report.Model} ({report.Architecture}, {report.WeightBytes / 1048576.0:F1} MiB of weights), {report.Threads} threads"));
                output.WriteLine(string.Create(inv, $"load:         {report.LoadMs:F0} ms"));
                output.WriteLine(string.Create(inv, $"prompt:       {promptTokens} tokens at {report.PromptTokensPerSecond:F1} tokens/s (first token after {report.TimeToFirstTokenMs:F0} ms)"));
                output.WriteLine(string.Create(inv, $"decode:       {genTokens} tokens at {report.DecodeTokensPerSecond:F1} tokens/s"));
                output.WriteLine(string.Create(inv, $"cpu:          {report.PromptTokensPerCpuSecond:F1} prompt and {report.DecodeTokensPerCpuSecond:F1} decode tokens per CPU-second (all threads; less sensitive to other load)"));
                output.WriteLine(string.Create(inv, $"memory:       peak working set {report.PeakWorkingSetBytes / 1048576.0:F0} MiB, managed heap {report.ManagedHeapBytes / 1048576.0:F1} MiB, {report.BytesAllocatedWhileDecoding} bytes allocated while decoding"));
            }
            return 0;
        }
    }
}
