using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Bench;

/// <summary>`kernels` mode: single-threaded GB/s of weight bytes streamed through TensorOps.Dot and TensorOps.DotQ8 (one row per call), per
/// type; then RowKernels.DotQ8 over ranges of rows as the engine's decode calls it, on 576- and 2048-wide rows (Gweights per CPU-second).</summary>
internal static class KernelBench
{
    /// <summary>Row length of the benchmark matrix (a typical 4096-wide model's hidden size).</summary>
    private const int Columns = 4096;

    /// <summary>Weight bytes per type: twice the 32 MiB L3 of the machine this was written on, so rows stream from memory.</summary>
    private const long DefaultWeightBytes = 64L << 20;

    /// <summary>Weight bytes for the in-cache measurement: half the 1 MiB L2 per core of the machine this was written on.</summary>
    private const long CachedWeightBytes = 512L << 10;

    /// <summary>Rows per RowKernels.DotQ8 call: about what a decode dispatch hands each chunk (a 576-row matrix over 2 threads x 4 chunks is 72).</summary>
    private const int RangeRows = 64;

    /// <summary>Row widths of the range measurement: SmolLM2-135M's hidden size and Llama 3.2 1B's.</summary>
    private static readonly int[] RangeWidths = [576, 2048];

    private static readonly GgmlType[] Types =
        [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 && double.TryParse(args[0], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 0.5;
        // "cached": a 512 KiB matrix that stays in L2, to see the kernels' compute cost apart from memory bandwidth (which other load shares).
        var cached = Array.IndexOf(args, "cached") >= 0;
        // Type names after the seconds limit the run to those types (numbers are not taken as types).
        var only = args.Skip(1).Where(a => a.Length > 0 && char.IsLetter(a[0]) && Enum.TryParse<GgmlType>(a, out _)).Select(Enum.Parse<GgmlType>).ToHashSet();
        var weightBytes = cached ? CachedWeightBytes : DefaultWeightBytes;
        Console.WriteLine($"kernels: single thread, rows of {Columns}, {(cached ? "0.5" : (weightBytes >> 20).ToString())} MiB of weights per type, ~{seconds}s per measurement");
        Console.WriteLine($"SIMD: Vector512 {(Avx512BW.IsSupported ? "AVX-512BW" : "no")}, Vector256 {(Avx2.IsSupported ? "AVX2" : "no")}, FMA {(Fma.IsSupported ? "yes" : "no")}");
        Console.WriteLine($"{"type",-6} {"bytes/weight",12} {"Dot GB/s",9} {"(per cpu-s)",11} {"DotQ8 GB/s",11} {"(per cpu-s)",11} {"DotQ8 Gweights/cpu-s",21}");
        var x = new float[Columns];
        var rng = new Random(1);
        for (var i = 0; i < x.Length; i++)
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        foreach (var type in Types)
        {
            if (Array.IndexOf(args, "ranges") >= 0)
                break;
            if (only.Count > 0 && !only.Contains(type))
                continue;
            var rowBytes = TensorOps.RowSize(type, Columns);
            var rows = (int)(weightBytes / rowBytes);
            var weights = MakeWeights(type, rows, rowBytes, rng);
            var xq = new byte[TensorOps.ActivationSize(type, Columns)];
            TensorOps.QuantizeActivations(type, x, xq);

            var dot = Measure(weights, rows, rowBytes, seconds, (row) => TensorOps.Dot(type, row, x));
            var dotQ8 = Measure(weights, rows, rowBytes, seconds, (row) => TensorOps.DotQ8(type, row, xq, Columns));
            var bytesPerWeight = rowBytes / (double)Columns;
            Console.WriteLine($"{type,-6} {bytesPerWeight,12:0.000} {dot.Wall,9:0.00} {dot.Cpu,11:0.00} {dotQ8.Wall,11:0.00} {dotQ8.Cpu,11:0.00} {dotQ8.Cpu / bytesPerWeight,21:0.00}");
        }
        RunRanges(args, only, seconds, weightBytes, rng);
        return 0;
    }

    // RowKernels.DotQ8 over ranges of RangeRows rows against one prepared activation vector, the way MatMulJob decodes one token.
    private static void RunRanges(string[] args, HashSet<GgmlType> only, double seconds, long weightBytes, Random rng)
    {
        Console.WriteLine($"RowKernels.DotQ8 over {RangeRows}-row ranges, Gweights per cpu-s (wall Gweights/s in parentheses)");
        Console.WriteLine($"{"type",-6}" + string.Concat(Array.ConvertAll(RangeWidths, w => $" {"n=" + w,20}")));
        foreach (var type in Types)
        {
            if (GgmlTypes.BlockSize(type) == 1 || (only.Count > 0 && !only.Contains(type)))
                continue;
            var line = $"{type,-6}";
            foreach (var n in RangeWidths)
            {
                if (n % GgmlTypes.BlockSize(type) != 0)
                {
                    line += $" {"-",20}";
                    continue;
                }
                var x = new float[n];
                for (var i = 0; i < n; i++)
                    x[i] = (float)(rng.NextDouble() * 2 - 1);
                var xq = new byte[TensorOps.ActivationSize(type, n)];
                TensorOps.QuantizeActivations(type, x, xq);
                var rowBytes = TensorOps.RowSize(type, n);
                var rows = (int)(weightBytes / rowBytes) / RangeRows * RangeRows;
                var weights = MakeWeights(type, rows, rowBytes, rng);
                var y = new float[RangeRows];
                var rangeBytes = RangeRows * rowBytes;
                // "best": the best of five measurements, the least disturbed by other load on a shared machine.
                double wall = 0, cpu = 0;
                for (var repeat = Array.IndexOf(args, "best") >= 0 ? 5 : 1; repeat > 0; repeat--)
                {
                    var m = Measure(weights, rows / RangeRows, rangeBytes, seconds, range =>
                    {
                        RowKernels.DotQ8(type, range, RangeRows, xq, n, y);
                        return y[0];
                    });
                    (wall, cpu) = (Math.Max(wall, m.Wall), Math.Max(cpu, m.Cpu));
                }
                var bytesPerWeight = rowBytes / (double)n;
                line += $" {cpu / bytesPerWeight,11:0.00} ({wall / bytesPerWeight,6:0.00})";
            }
            Console.WriteLine(line);
        }
    }

    private delegate float RowDot(ReadOnlySpan<byte> row);

    // Whole passes over the matrix until the time budget is spent; returns GB/s (10^9 bytes) of wall time and of this process's CPU time
    // (the second stays meaningful on a machine shared with other work, since the loop runs on one thread and the rest of the process idles).
    private static (double Wall, double Cpu) Measure(byte[] weights, int rows, int rowBytes, double seconds, RowDot dot)
    {
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var sink = 0f;
        // Warm up past tiered compilation: run a while, give the background compiler time to install the optimized code, run again.
        // (With 64 calls only, the dispatch code was measured at its first tier, which made some kernels look 2-5x slower.)
        for (var pass = 0; pass < 2; pass++)
        {
            var warm = Stopwatch.StartNew();
            for (var r = 0; warm.ElapsedMilliseconds < 150; r = (r + 1) % rows)
                sink += dot(weights.AsSpan(r * rowBytes, rowBytes));
            Thread.Sleep(pass == 0 ? 250 : 0);
        }
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long bytes = 0;
        do
        {
            for (var r = 0; r < rows; r++)
                sink += dot(weights.AsSpan(r * rowBytes, rowBytes));
            bytes += (long)rows * rowBytes;
        }
        while (sw.Elapsed.TotalSeconds < seconds);
        var wall = sw.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        GC.KeepAlive(sink);
        return (bytes / wall / 1e9, bytes / Math.Max(cpu, 1e-9) / 1e9);
    }

    // Random bits in the type's layout with sane block scales (quantizing 64 MiB of floats would take longer than the benchmark).
    private static byte[] MakeWeights(GgmlType type, int rows, int rowBytes, Random rng)
    {
        var w = new byte[(long)rows * rowBytes];
        rng.NextBytes(w);
        switch (type)
        {
            case GgmlType.F32:
                var f = MemoryMarshal.Cast<byte, float>(w.AsSpan());
                for (var i = 0; i < f.Length; i++)
                    f[i] = (float)(rng.NextDouble() - 0.5);
                break;
            case GgmlType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(w.AsSpan());
                for (var i = 0; i < h.Length; i++)
                    h[i] = (Half)(float)(rng.NextDouble() - 0.5);
                break;
            case GgmlType.BF16:
                var bf = MemoryMarshal.Cast<byte, ushort>(w.AsSpan());
                for (var i = 0; i < bf.Length; i++)
                    bf[i] = (ushort)(BitConverter.SingleToUInt32Bits((float)(rng.NextDouble() - 0.5)) >> 16);
                break;
            default:
                var blockBytes = GgmlTypes.BlockBytes(type);
                int[] halves = type switch
                {
                    GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 => [0],
                    GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q5_1 => [0, 2],
                    _ => [blockBytes - 2],
                };
                // The super-block scales of Q6_K (d) and the mins' scales of Q4_K/Q5_K (dmin) are half subnormals as often as not when
                // quantized from real weights (every Q6_K d and half the Q4_K dmin of `bench --make-model llama-1b`): the kernels must
                // not slow down on them, so the benchmark has them too.
                var tiny = type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;
                for (long b = 0; b < w.Length / blockBytes; b++)
                    foreach (var at in halves)
                        BitConverter.TryWriteBytes(w.AsSpan((int)(b * blockBytes + at)), tiny && at != 0 ? (Half)2.5e-5f : (Half)0.01f);
                break;
        }
        return w;
    }
}
