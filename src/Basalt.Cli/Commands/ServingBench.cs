using System.Diagnostics;
using System.Globalization;
using Basalt.Engine.Generation;
using Basalt.Engine.Models;

namespace Basalt.Cli.Commands;

/// <summary>The serving figures of `basalt bench`: time to first token with a shared prompt prefix, cold and warm
/// (prompt caching), and aggregate decode speed at several concurrent streams (continuous batching). Both run requests
/// through the model's <see cref="SequenceScheduler"/>, as the local provider does.</summary>
internal static class ServingBench
{
    /// <summary>Tokens of the short question after the shared prefix.</summary>
    private const int QuestionTokens = 12;

    /// <summary>Time to first token for BOS + <paramref name="prefixTokens"/> shared tokens + a short question: cold (empty
    /// prefix cache), then warm (a different question after the same prefix).</summary>
    public static int TimeToFirstToken(string path, int? threads, string kvType, int prefixTokens, TextWriter output, TextWriter error)
    {
        using var model = Load(path, threads, kvType, prefixTokens + QuestionTokens + 8, error);
        return model is null ? 1 : TimeToFirstToken(model, prefixTokens, output);
    }

    /// <summary>See <see cref="Streams(LanguageModel, IReadOnlyList{int}, int, TextWriter)"/>; parses "1,4,8,16".</summary>
    public static int Streams(string path, int? threads, string kvType, string streams, int genTokens, TextWriter output, TextWriter error)
    {
        var counts = new List<int>();
        foreach (var part in streams.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > SequenceScheduler.MaxSequencesLimit)
            {
                error.WriteLine($"error: --streams takes counts from 1 to {SequenceScheduler.MaxSequencesLimit} separated by commas, e.g. 1,4,8,16; got '{part}'.");
                return 2;
            }
            counts.Add(n);
        }
        using var model = Load(path, threads, kvType, 32 + genTokens, error);
        return model is null ? 1 : Streams(model, counts, genTokens, output);
    }

    private static LanguageModel? Load(string path, int? threads, string kvType, int context, TextWriter error)
    {
        KvCacheType type;
        switch (kvType.ToLowerInvariant())
        {
            case "f16": type = KvCacheType.F16; break;
            case "q8_0": type = KvCacheType.Q8_0; break;
            case "f32": type = KvCacheType.F32; break;
            default:
                error.WriteLine($"error: --kv-type must be f16, q8_0 or f32; got '{kvType}'.");
                return null;
        }
        try
        {
            return LanguageModel.Load(path, new ModelLoadOptions { Threads = threads, MaxContextLength = context, KvCacheType = type });
        }
        catch (Exception e) when (e is Basalt.Engine.Gguf.GgufFormatException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            error.WriteLine($"error: cannot load {path}: {e.Message}");
            return null;
        }
    }

    public static int TimeToFirstToken(LanguageModel model, int prefixTokens, TextWriter output)
    {
        var rng = new Rng(7);
        var prefix = RandomTokens(model, prefixTokens, ref rng, withBos: true);
        int[] Ask(ref Rng r) => [.. prefix, .. RandomTokens(model, QuestionTokens, ref r, withBos: false)];
        var options = new GenerationOptions { Temperature = 0, MaxTokens = 1 };
        using var scheduler = model.CreateScheduler(new SchedulerOptions { MaxSequences = 1 });
        // Warm-up of the JIT on a different prompt (its prefix does not match the measured one).
        scheduler.Submit(new SequenceRequest { Prompt = RandomTokens(model, 8, ref rng, withBos: false), Options = options }).GetAwaiter().GetResult();

        var (coldMs, coldCpu, coldCached) = FirstToken(scheduler, Ask(ref rng), options);
        var (warmMs, warmCpu, warmCached) = FirstToken(scheduler, Ask(ref rng), options);
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"model:        {model.Architecture}, {model.WeightBytes / 1048576.0:F1} MiB of weights, {model.Threads} threads, KV {model.KvCacheType}"));
        output.WriteLine(string.Create(inv, $"prompt:       {prefixTokens + 1} shared tokens + a {QuestionTokens}-token question"));
        output.WriteLine(string.Create(inv, $"cold:         first token after {coldMs:F0} ms ({coldCpu:F2} CPU-s, {coldCached} tokens from the prefix cache)"));
        output.WriteLine(string.Create(inv, $"warm:         first token after {warmMs:F0} ms ({warmCpu:F2} CPU-s, {warmCached} tokens from the prefix cache)"));
        output.WriteLine(string.Create(inv, $"speed-up:     {coldMs / warmMs:F1}x wall, {coldCpu / Math.Max(warmCpu, 1e-6):F1}x CPU"));
        return 0;
    }

    private static (double Ms, double CpuSeconds, int Cached) FirstToken(SequenceScheduler scheduler, int[] prompt, GenerationOptions options)
    {
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var timer = Stopwatch.StartNew();
        double first = 0;
        var result = scheduler.Submit(new SequenceRequest { Prompt = prompt, Options = options }, _ =>
        {
            if (first == 0) first = timer.Elapsed.TotalMilliseconds;
            return true;
        }).GetAwaiter().GetResult();
        var ms = first > 0 ? first : timer.Elapsed.TotalMilliseconds; // an end-of-generation first token streams no text
        process.Refresh();
        return (ms, (process.TotalProcessorTime - cpu).TotalSeconds, result.CachedPromptTokens);
    }

    /// <summary>Aggregate decode tokens/s with each count of concurrent streams: every stream gets a distinct short prompt and
    /// generates <paramref name="genTokens"/> tokens; the rate counts the tokens generated once every stream has its first
    /// token, so prompt processing is left out.</summary>
    public static int Streams(LanguageModel model, IReadOnlyList<int> streams, int genTokens, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"model:        {model.Architecture}, {model.WeightBytes / 1048576.0:F1} MiB of weights, {model.Threads} threads, KV {model.KvCacheType}"));
        var rng = new Rng(11);
        double? single = null;
        foreach (var n in streams)
        {
            using var scheduler = model.CreateScheduler(new SchedulerOptions { MaxSequences = Math.Max(n, 1), PrefixCacheBytes = 0 });
            // Warm-up at the same count, so the steps of n tokens run compiled code when the clock starts (not counted).
            var warmUp = new Task<GenerationResult>[n];
            for (var i = 0; i < n; i++)
                warmUp[i] = scheduler.Submit(new SequenceRequest { Prompt = RandomTokens(model, 8, ref rng, withBos: true), Options = new GenerationOptions { Temperature = 0, MaxTokens = 8 } });
            Task.WhenAll(warmUp).GetAwaiter().GetResult();
            var timer = Stopwatch.StartNew();
            var started = 0;
            long decodeStart = 0;
            long after = 0;
            var gate = new object();
            var options = new GenerationOptions { Temperature = 0, MaxTokens = genTokens };
            using var process = Process.GetCurrentProcess();
            TimeSpan cpuStart = default;
            var tasks = new Task<GenerationResult>[n];
            for (var i = 0; i < n; i++)
            {
                var seen = false;
                tasks[i] = scheduler.Submit(new SequenceRequest { Prompt = RandomTokens(model, 16, ref rng, withBos: true), Options = options }, t =>
                {
                    if (t.Id < 0)
                        return true; // the text held back until the end, not a token
                    lock (gate)
                    {
                        if (!seen)
                        {
                            seen = true;
                            if (++started == n)
                            {
                                decodeStart = timer.ElapsedTicks;
                                process.Refresh();
                                cpuStart = process.TotalProcessorTime;
                            }
                        }
                        else if (started == n)
                            after++;
                    }
                    return true;
                });
            }
            var results = Task.WhenAll(tasks).GetAwaiter().GetResult();
            var seconds = (timer.ElapsedTicks - decodeStart) / (double)Stopwatch.Frequency;
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpuStart).TotalSeconds;
            var rate = after / Math.Max(seconds, 1e-9);
            single ??= n == 1 ? rate : null;
            var ended = 0;
            foreach (var r in results)
                if (r.FinishReason != FinishReason.MaxTokens) ended++;
            var line = string.Create(inv, $"streams {n,3}:  {rate,8:F1} decode tokens/s aggregate, {rate / n,6:F1} per stream, {after / Math.Max(cpu, 1e-9),8:F1} per CPU-second");
            if (single is { } s && n > 1)
                line += string.Create(inv, $", {rate / s:F2}x one stream");
            if (ended > 0)
                line += string.Create(inv, $" ({ended} streams ended early)");
            output.WriteLine(line);
        }
        return 0;
    }

    /// <summary>Random token ids, avoiding the special ones at the start of the vocabulary.</summary>
    private static int[] RandomTokens(LanguageModel model, int count, ref Rng rng, bool withBos)
    {
        var vocab = model.Config.VocabSize;
        var tokens = new int[count + (withBos ? 1 : 0)];
        var i = 0;
        if (withBos)
            tokens[i++] = Math.Max(model.Tokenizer.BosId, 0);
        for (; i < tokens.Length; i++)
            tokens[i] = 3 + (int)(rng.NextUInt64() % (ulong)(vocab - 3));
        return tokens;
    }
}
