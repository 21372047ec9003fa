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
    /// <summary>The figures of a measurement: rates are the median over the repetitions, with the slowest and fastest beside them.</summary>
    internal sealed record Report(
        string Model, string Architecture, long WeightBytes, int Threads, int PromptTokens, int GeneratedTokens, int Repetitions,
        double LoadMs, double PromptTokensPerSecond, double TimeToFirstTokenMs, double DecodeTokensPerSecond,
        double PromptTokensPerCpuSecond, double DecodeTokensPerCpuSecond,
        double PromptTokensPerSecondMin, double PromptTokensPerSecondMax, double DecodeTokensPerSecondMin, double DecodeTokensPerSecondMax,
        long PeakWorkingSetBytes, long ManagedHeapBytes, long BytesAllocatedWhileDecoding, long NativeWeightBytes);

    public static Command Create()
    {
        var file = new Argument<string?>("file") { Description = "Path of the .gguf model to measure.", Arity = ArgumentArity.ZeroOrOne };
        var threads = new Option<int?>("--threads") { Description = "Threads for the forward pass (default: all processors)." };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length.", DefaultValueFactory = _ => 64 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens to generate.", DefaultValueFactory = _ => 32 };
        var json = new Option<bool>("--json") { Description = "Print the figures as JSON." };
        var repetitions = new Option<int>("--repetitions", "-r")
        {
            Description = "Timed runs of the prompt and the decode on the loaded model; the median is reported with the range (a shared machine's rates swing from run to run).",
            DefaultValueFactory = _ => 1,
        };
        var keepMapped = new Option<bool>("--keep-mapped") { Description = "Read the weights from the file's memory mapping instead of copies in huge pages (ModelLoadOptions.KeepWeightsMapped), to compare the two." };
        var makeModel = new Option<string?>("--make-model") { Description = "Write a random-weight model instead: smollm2-135m or llama-1b." };
        var type = new Option<string>("--type") { Description = "Tensor types for --make-model: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K_M, Q5_K_M.", DefaultValueFactory = _ => "Q8_0" };
        var output = new Option<string?>("--out") { Description = "Where --make-model writes the model." };
        var ttft = new Option<int?>("--ttft") { Description = "Serving: time to first token after this many shared prompt tokens plus a short question, cold and then warm (prompt caching)." };
        var streams = new Option<string?>("--streams") { Description = "Serving: aggregate decode tokens/s at these concurrent stream counts, e.g. 1,4,8,16 (continuous batching)." };
        var kvType = new Option<string>("--kv-type") { Description = "KV cache type for --ttft and --streams: f16, q8_0 or f32.", DefaultValueFactory = _ => "f16" };
        var train = new Option<string?>("--train") { Description = "Measure training tokens/s instead, on a random model of this shape: basalt-tiny or smollm2-135m." };
        var trainSteps = new Option<int>("--train-steps") { Description = "Timed training steps for --train.", DefaultValueFactory = _ => 3 };
        var trainBatch = new Option<int>("--train-batch") { Description = "Sequences per step for --train.", DefaultValueFactory = _ => 1 };
        var trainSeq = new Option<int>("--train-seq") { Description = "Tokens per sequence for --train.", DefaultValueFactory = _ => 64 };
        var command = new Command("bench", "Measure the local engine's speed on a GGUF model, or write a random-weight model to measure.")
        {
            file, threads, promptTokens, genTokens, repetitions, json, keepMapped, makeModel, type, output, ttft, streams, kvType, train, trainSteps, trainBatch, trainSeq,
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
            if (parse.GetValue(ttft) is { } shared)
                return shared < 1 ? Usage(e, "--ttft must be at least 1.") : ServingBench.TimeToFirstToken(path, parse.GetValue(threads), parse.GetValue(kvType)!, shared, o, e);
            if (parse.GetValue(streams) is { } counts)
                return ServingBench.Streams(path, parse.GetValue(threads), parse.GetValue(kvType)!, counts, parse.GetValue(genTokens), o, e);
            return Measure(path, parse.GetValue(threads), parse.GetValue(promptTokens), parse.GetValue(genTokens), parse.GetValue(json), o, e, parse.GetValue(repetitions),
                parse.GetValue(keepMapped));
        });
        return command;
    }

    // Tokens per second of each run (0 when nothing was timed).
    private static double[] Rates(int tokens, double[] seconds) => seconds.Select(t => tokens > 0 ? tokens / Math.Max(t, 1e-6) : 0).ToArray();

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine("error: " + message);
        return 2;
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

    internal static int Measure(string path, int? threads, int promptTokens, int genTokens, bool json, TextWriter output, TextWriter error,
        int repetitions = 1, bool keepMapped = false)
    {
        if (promptTokens < 1 || genTokens < 1 || threads is < 1 || repetitions < 1)
        {
            error.WriteLine("error: --prompt-tokens, --gen-tokens, --repetitions and --threads must be at least 1.");
            return 2;
        }
        var loadTimer = Stopwatch.StartNew();
        LanguageModel model;
        try
        {
            model = LanguageModel.Load(path, new ModelLoadOptions { Threads = threads, MaxContextLength = promptTokens + genTokens, KeepWeightsMapped = keepMapped });
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
            var cache = model.CreateKvCache(promptTokens + genTokens);
            var state = new BatchState(model.Config, model.MaxBatchTokens, promptTokens + genTokens, logitsRows: 1);
            var chunk = new BatchToken[model.MaxBatchTokens];
            var vocab = model.Config.VocabSize;
            var rng = new Rng(42);
            var prompt = new int[promptTokens];
            prompt[0] = model.Tokenizer.BosId;
            for (var i = 1; i < promptTokens; i++)
                prompt[i] = (int)(rng.NextUInt64() % (ulong)vocab);

            // Warm-up: one token and one prompt chunk through every layer so the JIT has compiled the hot paths (not counted).
            model.Transformer.Forward(state, [new BatchToken(cache, prompt[0], 0, 0)]);
            var warm = Math.Min(chunk.Length, promptTokens);
            for (var i = 0; i < warm; i++)
                chunk[i] = new BatchToken(cache, prompt[i], i, i == warm - 1 ? 0 : -1);
            model.Transformer.Forward(state, chunk.AsSpan(0, warm));

            // CPU time beside wall time: on a shared machine the wall-clock rates swing with other load, CPU seconds much less.
            // Each repetition runs the same prompt from position 0 again (overwriting the cache) and decodes after it.
            using var process = Process.GetCurrentProcess();
            var promptSeconds = new double[repetitions];
            var decodeSeconds = new double[repetitions];
            var promptCpu = new double[repetitions];
            var decodeCpu = new double[repetitions];
            long allocated = 0;
            for (var r = 0; r < repetitions; r++)
            {
                process.Refresh();
                var cpuStart = process.TotalProcessorTime;
                var timer = Stopwatch.StartNew();
                // The prompt in chunks of MaxBatchTokens, as the generator runs it.
                for (var pos = 0; pos < promptTokens; pos += chunk.Length)
                {
                    var count = Math.Min(chunk.Length, promptTokens - pos);
                    for (var i = 0; i < count; i++)
                        chunk[i] = new BatchToken(cache, prompt[pos + i], pos + i, pos + i == promptTokens - 1 ? 0 : -1);
                    model.Transformer.Forward(state, chunk.AsSpan(0, count));
                }
                var next = Sampler.ArgMax(state.Logits(0));
                promptSeconds[r] = timer.Elapsed.TotalSeconds;
                process.Refresh();
                var cpuAfterPrompt = process.TotalProcessorTime;
                promptCpu[r] = (cpuAfterPrompt - cpuStart).TotalSeconds;

                var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                timer.Restart();
                for (var i = 1; i < genTokens; i++)
                {
                    chunk[0] = new BatchToken(cache, next, promptTokens + i - 1, 0);
                    model.Transformer.Forward(state, chunk.AsSpan(0, 1));
                    next = Sampler.ArgMax(state.Logits(0));
                }
                decodeSeconds[r] = timer.Elapsed.TotalSeconds;
                allocated = Math.Max(allocated, GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore);
                process.Refresh();
                decodeCpu[r] = (process.TotalProcessorTime - cpuAfterPrompt).TotalSeconds;
            }
            var promptRates = Rates(promptTokens, promptSeconds);
            var decodeRates = Rates(genTokens - 1, decodeSeconds);
            var report = new Report(
                Path.GetFileName(path), model.Architecture, model.WeightBytes, model.Threads, promptTokens, genTokens, repetitions,
                Math.Round(loadMs, 1),
                Math.Round(Median(promptRates), 2),
                Math.Round(Median(promptSeconds) * 1000, 1),
                Math.Round(Median(decodeRates), 2),
                Math.Round(Median(Rates(promptTokens, promptCpu)), 2),
                Math.Round(Median(Rates(genTokens - 1, decodeCpu)), 2),
                Math.Round(promptRates.Min(), 2), Math.Round(promptRates.Max(), 2),
                Math.Round(decodeRates.Min(), 2), Math.Round(decodeRates.Max(), 2),
                process.PeakWorkingSet64,
                GC.GetGCMemoryInfo().HeapSizeBytes,
                allocated,
                model.RepackedWeightBytes);
            if (json)
                output.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            else
            {
                var inv = CultureInfo.InvariantCulture;
                output.WriteLine(string.Create(inv, $"model:        {report.Model} ({report.Architecture}, {report.WeightBytes / 1048576.0:F1} MiB of weights), {report.Threads} threads"));
                var held = report.NativeWeightBytes > 0
                    ? string.Create(inv, $"{report.NativeWeightBytes / 1048576.0:F1} MiB of weights in huge-page native memory")
                    : model.WeightsMappedForMemory?.ToString() ?? "weights read from the file's mapping";
                output.WriteLine(string.Create(inv, $"load:         {report.LoadMs:F0} ms ({held})"));
                var range = repetitions > 1;
                output.WriteLine(string.Create(inv, $"prompt:       {promptTokens} tokens at {report.PromptTokensPerSecond:F1} tokens/s (first token after {report.TimeToFirstTokenMs:F0} ms)")
                    + (range ? string.Create(inv, $"; median of {repetitions}, range {report.PromptTokensPerSecondMin:F1}-{report.PromptTokensPerSecondMax:F1}") : ""));
                output.WriteLine(string.Create(inv, $"decode:       {genTokens} tokens at {report.DecodeTokensPerSecond:F1} tokens/s")
                    + (range ? string.Create(inv, $"; median of {repetitions}, range {report.DecodeTokensPerSecondMin:F1}-{report.DecodeTokensPerSecondMax:F1}") : ""));
                output.WriteLine(string.Create(inv, $"cpu:          {report.PromptTokensPerCpuSecond:F1} prompt and {report.DecodeTokensPerCpuSecond:F1} decode tokens per CPU-second (all threads; less sensitive to other load)"));
                output.WriteLine(string.Create(inv, $"memory:       peak working set {report.PeakWorkingSetBytes / 1048576.0:F0} MiB, managed heap {report.ManagedHeapBytes / 1048576.0:F1} MiB, {report.BytesAllocatedWhileDecoding} bytes allocated while decoding"));
            }
            return 0;
        }
    }
}
