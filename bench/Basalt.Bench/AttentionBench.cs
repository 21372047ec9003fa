using System.Diagnostics;
using Basalt.Engine.Models;
using Basalt.Engine.Threading;

namespace Basalt.Bench;

/// <summary>`attention` mode: one layer's attention on one thread over a full cache, per KV type, in the head shapes of SmolLM2-135M and
/// Llama-3.2-1B: a 64-token prompt chunk at the end of the context (GFLOP per CPU-second) and one decoding token (KV bytes per CPU-second).</summary>
internal static class AttentionBench
{
    /// <summary>Cached positions: the 2,048-token context of the shapes benchmarked.</summary>
    private const int Context = 2048;
    /// <summary>Tokens per prompt chunk, as the engine runs prompts (LanguageModel.DefaultMaxBatchTokens).</summary>
    private const int Chunk = 64;

    private static readonly (string Name, int Heads, int KvHeads, int HeadDim)[] Shapes = [("135M", 9, 3, 64), ("1B", 32, 8, 64)];

    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 && double.TryParse(args[0], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 1.0;
        // "decode": the decoding token only (to profile it apart from the prompt chunk).
        var decodeOnly = Array.IndexOf(args, "decode") >= 0;
        Console.WriteLine($"attention: one layer, one thread, {Context} cached positions, ~{seconds}s per measurement");
        Console.WriteLine($"{"shape",-5} {"kv",-5} {"prompt chunk ms",16} {"GFLOP/cpu-s",12} {"decode us",10} {"KV GB/cpu-s",12}");
        using var pool = new WorkerPool(1);
        foreach (var (name, heads, kvHeads, headDim) in Shapes)
            foreach (var type in new[] { KvCacheType.F16, KvCacheType.Q8_0, KvCacheType.F32 })
            {
                var c = new ModelConfig
                {
                    Architecture = "llama", Dim = heads * headDim, Layers = 1, Heads = heads, KvHeads = kvHeads, HeadDim = headDim,
                    ValueHeadDim = headDim, FfnDim = 1, VocabSize = 1, ContextLength = Context, RopeDim = headDim,
                };
                var cache = new KvCache(c, Context, type);
                var rng = new Random(1);
                var k = new float[c.KDim];
                var v = new float[c.VDim];
                for (var p = 0; p < Context; p++)
                {
                    for (var i = 0; i < k.Length; i++)
                        (k[i], v[i]) = ((float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1));
                    cache.Write(0, p, k, v);
                }
                var state = new BatchState(c, Chunk, Context, logitsRows: 1);
                for (var i = 0; i < state.Q.Length; i++)
                    state.Q[i] = (float)(rng.NextDouble() * 2 - 1);

                var flops = 0.0;
                for (var j = 0; j < Chunk; j++)
                {
                    state.Caches[j] = cache;
                    state.Positions[j] = Context - Chunk + j;
                    flops += 2.0 * heads * (Context - Chunk + j + 1) * 2 * headDim;
                }
                var prompt = decodeOnly ? (Wall: double.NaN, Cpu: double.NaN) : Measure(seconds, () => state.Attention.Run(pool, 0, Chunk, 0));
                state.Positions[0] = Context - 1;
                var decode = Measure(seconds, () => state.Attention.Run(pool, 0, 1, 0));
                var kvBytes = (double)Context * (cache.KeyRowBytes + cache.ValueRowBytes);
                Console.WriteLine($"{name,-5} {type,-5} {prompt.Wall * 1e3,16:0.00} {flops / prompt.Cpu / 1e9,12:0.00} {decode.Wall * 1e6,10:0.0} {kvBytes / decode.Cpu / 1e9,12:0.00}");
            }
        return 0;
    }

    // Runs until the time budget is spent; returns wall and CPU seconds per run.
    private static (double Wall, double Cpu) Measure(double seconds, Action run)
    {
        var process = Process.GetCurrentProcess();
        run();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var runs = 0;
        do
        {
            run();
            runs++;
        }
        while (sw.Elapsed.TotalSeconds < seconds);
        var wall = sw.Elapsed.TotalSeconds;
        process.Refresh();
        return (wall / runs, (process.TotalProcessorTime - cpu0).TotalSeconds / runs);
    }
}
