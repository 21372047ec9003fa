using System.Diagnostics;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Bench;

/// <summary>`f16` mode: single-threaded F16 matmul kernels in the shapes the engine calls them with, per CPU-second.
/// Decode: <see cref="RowKernels.DotQ8"/> over ranges of rows against one float vector (Gweights/cpu-s), from L2 and from memory.
/// Prompt and small batches: <see cref="TensorOps.DotQ8Rows"/> on tiles of 16 rows against T tokens (GFLOP/cpu-s, 2 per weight and token).</summary>
internal static class F16Bench
{
    /// <summary>Row lengths of SmolLM2-135M: hidden size and feed-forward size.</summary>
    private static readonly int[] Columns = [576, 1536];

    /// <summary>Weights in the cached case: half the 512 KiB L2 per core of this machine; in the streaming case twice its 32 MiB L3.</summary>
    private const long CachedBytes = 256L << 10, StreamBytes = 64L << 20;

    /// <summary>Rows per decode call: what a worker gets of a 576-row matrix split over two threads (fewer when the L2 case holds fewer).</summary>
    private const int DecodeRange = 288;

    /// <summary>Weight rows per tile call (MatMulJob.TileRows).</summary>
    private const int TileRows = 16;

    private static readonly int[] TokenCounts = [2, 3, 4, 8, 16, 64];

    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 && double.TryParse(args[0], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 0.5;
        Console.WriteLine($"f16: single thread, ~{seconds}s per measurement; figures per CPU-second of this process");
        var rng = new Random(7);
        foreach (var n in Columns)
        {
            var x = new float[n];
            for (var i = 0; i < n; i++)
                x[i] = (float)(rng.NextDouble() * 2 - 1);
            var xq = new byte[TensorOps.ActivationSize(GgmlType.F16, n)];
            TensorOps.QuantizeActivations(GgmlType.F16, x, xq);
            var rowBytes = TensorOps.RowSize(GgmlType.F16, n);
            foreach (var (label, bytes) in new[] { ("L2", CachedBytes), ("memory", StreamBytes) })
            {
                var range = (int)Math.Min(DecodeRange, bytes / rowBytes);
                var rows = (int)(bytes / rowBytes) / range * range;
                var w = Weights(rows, n, rng);
                var y = new float[range];
                foreach (var finite in new[] { false, true })
                {
                    // finite: the matrix's load-time "no infinity or NaN" flag set, as WeightMatrix.Finite is for real F16 weights.
                    var cpu = Measure(seconds, () =>
                    {
                        for (var r = 0; r < rows; r += range)
                            RowKernels.DotQ8(GgmlType.F16, w.AsSpan(r * rowBytes, range * rowBytes), range, xq, n, y, finite);
                        return (long)rows * n;
                    });
                    Console.WriteLine($"decode n={n,-5} {label,-7} {(finite ? "finite" : "checked"),-7} {cpu / 1e9,7:0.00} Gweights/cpu-s");
                }
            }
            var tileWeights = Weights(TileRows * 64, n, rng);
            foreach (var tokens in TokenCounts)
            {
                var xs = new byte[tokens * xq.Length];
                for (var j = 0; j < tokens; j++)
                    xq.CopyTo(xs.AsSpan(j * xq.Length));
                var y = new float[TileRows * tokens];
                var cpu = Measure(seconds, () =>
                {
                    for (var t = 0; t < 64; t++)
                        TensorOps.DotQ8Rows(GgmlType.F16, tileWeights.AsSpan(t * TileRows * rowBytes, TileRows * rowBytes), TileRows, xs, tokens, n, y);
                    return 2L * 64 * TileRows * tokens * n;
                });
                Console.WriteLine($"tile   n={n,-5} T={tokens,-3}  {cpu / 1e9,7:0.00} GFLOP/cpu-s");
            }
        }
        return 0;
    }

    private static byte[] Weights(int rows, int n, Random rng)
    {
        var rowBytes = TensorOps.RowSize(GgmlType.F16, n);
        var w = new byte[(long)rows * rowBytes];
        var row = new float[n];
        for (var r = 0; r < rows; r++)
        {
            for (var i = 0; i < n; i++)
                row[i] = (float)((rng.NextDouble() * 2 - 1) * 0.05);
            TensorOps.QuantizeRow(GgmlType.F16, row, w.AsSpan(r * rowBytes, rowBytes));
        }
        return w;
    }

    // Repeats the pass until the time budget is spent; returns units (weights or flops) per CPU-second of this process.
    private static double Measure(double seconds, Func<long> pass)
    {
        pass();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long units = 0;
        do
            units += pass();
        while (sw.Elapsed.TotalSeconds < seconds);
        process.Refresh();
        return units / (process.TotalProcessorTime - cpu0).TotalSeconds;
    }
}
