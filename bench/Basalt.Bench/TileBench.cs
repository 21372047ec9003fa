using System.Diagnostics;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Bench;

/// <summary>`tiles` mode: single-threaded GOP (10^9 multiply-adds x 2) per CPU-second of the prompt-processing tile kernel
/// (TensorOps.DotQ8Rows), per weight type, and GOP/s of the fastest pass (the figure least disturbed by other load on the machine), over tiles of 16 rows against 64 tokens as the engine's MatMulJob calls it.</summary>
internal static class TileBench
{
    /// <summary>Rows per call (MatMulJob's TileRows) and tokens per call (one prompt chunk, LanguageModel.DefaultMaxBatchTokens).</summary>
    private const int TileRows = 16;
    private const int Tokens = 64;

    /// <summary>Rows of the benchmark matrix: 576 x 2304 weights is the 135M model's widest projection, within L2 for the 4-bit types.</summary>
    private const int Rows = 256;

    private static readonly GgmlType[] Types =
        [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.F16];

    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 && double.TryParse(args[0], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 0.5;
        var only = args.Skip(1).Select(a => Enum.TryParse<GgmlType>(a, out var t) ? t : (GgmlType?)null).Where(t => t is not null).ToArray();
        var columns = args.Contains("wide") ? 2048 : 576;
        Console.WriteLine($"tiles: single thread, {Rows} rows of {columns} (tiles of {TileRows} rows) x {Tokens} tokens per pass, ~{seconds}s per type");
        Console.WriteLine($"{"type",-6} {"GOP/s",8} {"GOP/cpu-s",10} {"best pass",11}");
        var rng = new Random(1);
        foreach (var type in Types)
        {
            if (only.Length > 0 && Array.IndexOf(only, type) < 0)
                continue;
            if (columns % TensorOps.BlockSize(type) != 0)
            {
                Console.WriteLine($"{type,-6} (rows of {columns} are not a multiple of {TensorOps.BlockSize(type)})");
                continue;
            }
            var rowBytes = TensorOps.RowSize(type, columns);
            var weights = new byte[Rows * rowBytes];
            var row = new float[columns];
            for (var r = 0; r < Rows; r++)
            {
                for (var i = 0; i < columns; i++)
                    row[i] = (float)(rng.NextDouble() * 2 - 1);
                TensorOps.QuantizeRow(type, row, weights.AsSpan(r * rowBytes, rowBytes));
            }
            var xBytes = TensorOps.ActivationSize(type, columns);
            var xq = new byte[Tokens * xBytes];
            for (var j = 0; j < Tokens; j++)
            {
                for (var i = 0; i < columns; i++)
                    row[i] = (float)(rng.NextDouble() * 2 - 1);
                TensorOps.QuantizeActivations(type, row, xq.AsSpan(j * xBytes, xBytes));
            }
            var y = new float[TileRows * Tokens];
            // As in the engine, the activations' side information is prepared once per batch (with their quantization), not per tile.
            var panel = PanelKernels.Supports(type);
            var info = new float[PanelKernels.InfoLength(Tokens, columns)];
            if (panel)
                for (var j = 0; j < Tokens; j++)
                    PanelKernels.PrepareToken(xq.AsSpan(j * xBytes, xBytes), columns, j, Tokens, info);
            var half = info.Length / 2;
            void Pass()
            {
                for (var r = 0; r < Rows; r += TileRows)
                    if (panel)
                        MatMulKernels.DotRows(type, weights.AsSpan(r * rowBytes, TileRows * rowBytes), rowBytes, TileRows, xq, xBytes, Tokens, columns, y,
                            info.AsSpan(0, half), info.AsSpan(half));
                    else
                        TensorOps.DotQ8Rows(type, weights.AsSpan(r * rowBytes, TileRows * rowBytes), TileRows, xq, Tokens, columns, y);
            }
            // Warm up until the tiered JIT has replaced the drivers' first code with optimized code.
            for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 0.3;)
                Pass();
            var process = Process.GetCurrentProcess();
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            long passes = 0;
            var best = double.MaxValue;
            do
            {
                var t0 = Stopwatch.GetTimestamp();
                Pass();
                best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                passes++;
            }
            while (sw.Elapsed.TotalSeconds < seconds);
            var wall = sw.Elapsed.TotalSeconds;
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
            var ops = 2.0 * Rows * columns * Tokens * passes / 1e9;
            Console.WriteLine($"{type,-6} {ops / wall,8:0.0} {ops / cpu,10:0.0} {ops / passes / best,11:0.0}");
        }
        return 0;
    }
}
