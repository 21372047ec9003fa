using System.Diagnostics;
using System.Globalization;
using Basalt.Engine.Generation;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Bench;

/// <summary>The matmul kernels at the token counts of concurrent decoding (1 to 16 tokens), one thread, weights in L2: the row-range
/// decode kernel at T = 1, the small-batch kernels and the prompt tiles at T = 2..16. Figures are weight-token products (multiply-adds)
/// per CPU-second and the cost of a T-token pass relative to a one-token pass.</summary>
internal static class SmallBatchBench
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 0.3;
        GgmlType[] types = args.Length > 1 ? [.. args[1..].Select(Enum.Parse<GgmlType>)] : [GgmlType.Q8_0, GgmlType.Q5_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];
        int[] counts = [1, 2, 3, 4, 6, 8, 16];
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"GMAC per CPU-second, one thread, {Rows} rows ({(Rows > 4096 ? "streamed from memory" : "L2")}); in brackets the time of a T-token pass over a one-token pass");
        foreach (var type in types)
        {
            var n = Cols ?? (TensorOps.BlockSize(type) == 256 ? 512 : 576);
            var rows = Rows;
            var rowBytes = TensorOps.RowSize(type, n);
            var w = new byte[rows * rowBytes];
            var rng = new Random(7);
            var f = new float[n];
            for (var r = 0; r < rows; r++)
            {
                for (var i = 0; i < n; i++) f[i] = (float)(rng.NextDouble() - 0.5);
                TensorOps.QuantizeRow(type, f, w.AsSpan(r * rowBytes, rowBytes));
            }
            var xBytes = TensorOps.ActivationSize(type, n);
            var xq = new byte[16 * xBytes];
            for (var j = 0; j < 16; j++)
            {
                for (var i = 0; i < n; i++) f[i] = (float)(rng.NextDouble() * 2 - 1);
                TensorOps.QuantizeActivations(type, f, xq.AsSpan(j * xBytes, xBytes));
            }
            var y = new float[16 * rows];
            var outputs = new int[16];
            for (var j = 0; j < 16; j++) outputs[j] = j * rows;
            var line = $"{type,-5} n={n}:";
            double one = 0;
            foreach (var t in counts)
            {
                double small;
                if (t == 1)
                    small = Measure(seconds, () => RowKernels.DotQ8(type, w, rows, xq.AsSpan(0, xBytes), n, y));
                else
                    small = Measure(seconds, () => SmallBatchKernels.DotRows(type, w, rows, xq, xBytes, t, n, y, outputs));
                if (t == 1) one = small;
                var tile = t == 1 ? 0 : Measure(seconds, () =>
                {
                    for (var r0 = 0; r0 < rows; r0 += 16)
                        TensorOps.DotQ8Rows(type, w.AsSpan(r0 * rowBytes, 16 * rowBytes), 16, xq.AsSpan(0, t * xBytes), t, n, y);
                });
                var macs = (double)rows * n * t;
                line += string.Create(inv, $"  T={t}: {macs / small / 1e9:F1} [{small / one:F2}x]");
                if (t > 1)
                    line += string.Create(inv, $" tiles {macs / tile / 1e9:F1} [{tile / one:F2}x]");
            }
            Console.WriteLine(line);
            if (type == GgmlType.Q8_0)
                Octets(seconds, w, rows, n, xq, xBytes, y, outputs, counts, one);
        }
        SamplerCost(seconds);
        return 0;
    }

    // Q8_0 repacked into octets as the engine loads it: the octet kernels at every count (T = 1 is the decode kernel) and the prompt
    // tiles reading the octets as their panel; brackets relative to the row kernel's one-token pass above, whose
    // seconds the caller passes as one.
    private static unsafe void Octets(double seconds, byte[] w, int rows, int n, byte[] xq, int xBytes, float[] y, int[] outputs, int[] counts, double one)
    {
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        var bytes = (long)rows * rowBytes;
        var packed = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            fixed (byte* src = w)
                Q8Octets.Repack(src, packed, rowBytes, n / 32, 0, rows / 8);
            var inv = CultureInfo.InvariantCulture;
            var line = $"octets n={n}:";
            foreach (var t in counts)
            {
                var small = Measure(seconds, () => Q8Octets.DotRows(new ReadOnlySpan<byte>(packed, (int)bytes), rows, n, 0, rows, xq, xBytes, t, y, outputs));
                var tile = t == 1 ? 0 : Measure(seconds, () =>
                {
                    for (var r0 = 0; r0 < rows; r0 += 16)
                        PanelKernels.DotOctets(new ReadOnlySpan<byte>(packed + (long)r0 * rowBytes, 16 * rowBytes), 16, xq.AsSpan(0, t * xBytes), xBytes, t, n, y);
                });
                var macs = (double)rows * n * t;
                line += string.Create(inv, $"  T={t}: {macs / small / 1e9:F1} [{small / one:F2}x]");
                if (t > 1)
                    line += string.Create(inv, $" tiles {macs / tile / 1e9:F1} [{tile / one:F2}x]");
            }
            Console.WriteLine(line);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(packed);
        }
    }

    // Row length: 576 (SmolLM2-135M's width; 512 for the 256-weight types) unless BASALT_BENCH_COLS sets one (2048: the 1B shape).
    private static readonly int? Cols = int.TryParse(Environment.GetEnvironmentVariable("BASALT_BENCH_COLS"), out var cols) && cols > 0 && cols % 256 == 0 ? cols : null;

    // Rows per matrix: 256 keep the weights in L2 (the kernels' own speed); BASALT_BENCH_ROWS=65536 (38 MB of Q8_0) streams them
    // from memory, as the engine's decode steps do.
    private static readonly int Rows = int.TryParse(Environment.GetEnvironmentVariable("BASALT_BENCH_ROWS"), out var rows) && rows >= 16 ? rows / 16 * 16 : 256;

    // Sampling one token from 49,152 logits (SmolLM2's vocabulary) with the default options (top-k 40 selects by a heap pass) and
    // with top-k off (every candidate within the negligible gap sorted, what every draw cost before the selection).
    private static void SamplerCost(double seconds)
    {
        const int vocab = 49_152;
        var rng = new Rng(3);
        var logits = new float[vocab];
        for (var i = 0; i < vocab; i++) logits[i] = (float)(rng.NextDouble() * 8 - 4);
        var work = new float[vocab];
        var sampler = new Sampler(vocab);
        foreach (var (name, o) in new[] { ("default (top-k 40)", new GenerationOptions()), ("top-k off (sorted)", new GenerationOptions { TopK = 0 }),
            ("greedy", new GenerationOptions { Temperature = 0 }) })
        {
            var draw = new Rng(1);
            var cost = Measure(seconds, () =>
            {
                logits.CopyTo(work, 0);
                sampler.Sample(work, o, [], ref draw);
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sampler {name,-20} {cost * 1e6,8:F1} us per token (CPU), 49,152 logits"));
        }
    }

    // CPU seconds per call, the best of a few rounds of at least seconds / 3 each.
    private static double Measure(double seconds, Action call)
    {
        for (var i = 0; i < 20; i++) call();
        using var process = Process.GetCurrentProcess();
        var best = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            var calls = 0;
            while (wall.Elapsed.TotalSeconds < seconds / 3)
            {
                for (var i = 0; i < 20; i++) call();
                calls += 20;
            }
            process.Refresh();
            best = Math.Min(best, (process.TotalProcessorTime - cpu).TotalSeconds / calls);
        }
        return best;
    }
}
