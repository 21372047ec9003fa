using System.Globalization;
using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Tensors;
using Basalt.Engine.Threading;
using static Basalt.Engine.Tests.Tensors.TensorTestData;

namespace Basalt.Engine.Tests.Models;

public sealed unsafe class RepackedWeightsTests
{
    // Decoding (and the one-token logits projection of a prompt), the octet kernel sums each block's 8 rows in float lanes where the
    // row kernel of the file's layout sums each row in its own order; the layers' re-quantized activations could amplify that rounding.
    // Measured on these random models: a few 1e-7 absolute on logits of magnitude ~1 (the prompt tiles and small batches themselves
    // are the same sums in the same order).
    private const double LayoutTolerance = 1e-4;

    private static string WriteMatrices(params (string Name, int Rows, int Cols)[] tensors)
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-octets-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var w = new GgufWriter();
        var seed = 1;
        foreach (var (name, rows, cols) in tensors)
            w.AddTensorBytes(name, GgmlType.Q8_0, [cols, rows], RandomBlocks(GgmlType.Q8_0, rows * cols / 32, seed++));
        w.WriteTo(path);
        return path;
    }

    [Fact]
    public void Matrix_Q8RowsInOctets_RepackedAndReadsBackEveryRow()
    {
        var path = WriteMatrices(("a", 24, 96), ("odd", 13, 64));
        try
        {
            using var file = GgufFile.Open(path);
            using var binder = new WeightBinder(file);
            var a = binder.Matrix("a", 96, 24);
            var odd = binder.Matrix("odd", 64, 13);
            if (!Q8Octets.Supports(GgmlType.Q8_0, 24, 96))
            {
                Assert.Equal(WeightLayout.Rows, a.Layout);
                return;
            }
            Assert.Equal(WeightLayout.Octets, a.Layout);
            Assert.Equal(WeightLayout.Rows, odd.Layout);
            // The matrix outside octets is held too, copied in the file's layout, where the mapping's pages can be released.
            Assert.Equal(a.RowBytes * 24 + (file.ReleasesPages ? odd.RowBytes * 13 : 0), binder.Repacked!.Bytes);

            var original = file.TensorData(file.GetTensor("a")).ToArray();
            var scratch = new byte[a.RowBytes];
            var floats = new float[96];
            var expected = new float[96];
            for (var r = 0; r < 24; r++)
            {
                var row = original.AsSpan(r * (int)a.RowBytes, (int)a.RowBytes);
                Assert.Equal(row.ToArray(), a.RowBytesOf(r, scratch).ToArray());
                a.DequantizeRow(r, floats);
                TensorOps.DequantizeRow(GgmlType.Q8_0, row, expected);
                Assert.Equal(expected, floats);
            }
            // A slice on whole octets stays octets and reads the rows it covers.
            var slice = a.Slice(8, 16);
            Assert.Equal(WeightLayout.Octets, slice.Layout);
            for (var r = 0; r < 16; r++)
            {
                slice.DequantizeRow(r, floats);
                TensorOps.DequantizeRow(GgmlType.Q8_0, original.AsSpan((8 + r) * (int)a.RowBytes, (int)a.RowBytes), expected);
                Assert.Equal(expected, floats);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Matrix_WrongLayoutOrSplitOctet_ThrowsOrKeepsFileLayout()
    {
        var path = WriteMatrices(("a", 24, 96));
        try
        {
            using var file = GgufFile.Open(path);
            using var binder = new WeightBinder(file);
            var a = binder.Matrix("a", 96, 24);
            if (a.Layout != WeightLayout.Octets)
                return;
            // Row-layout readers refuse octets instead of reading interleaved bytes as rows.
            Assert.Throws<InvalidOperationException>(() => a.Row(0).Length);
            Assert.Throws<InvalidOperationException>(() => a.RowRange(0, 8).Length);
            Assert.Throws<ArgumentOutOfRangeException>(() => a.Slice(4, 8));
            Assert.Throws<ArgumentOutOfRangeException>(() => a.OctetRange(4, 8).Length);
            // A fused tensor split inside an octet, or a binder told not to repack, keeps the file's rows.
            using var split = new WeightBinder(file);
            Assert.Equal(WeightLayout.Rows, split.Matrix("a", 96, 24, splitAt: 12).Layout);
            using var mapped = new WeightBinder(file, repack: false);
            var rows = mapped.Matrix("a", 96, 24);
            Assert.Equal(WeightLayout.Rows, rows.Layout);
            Assert.Throws<InvalidOperationException>(() => rows.OctetRange(0, 8).Length);
            Assert.Equal(4, rows.Slice(4, 12).Slice(0, 4).Rows);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("llama", 300)]
    [InlineData("phi3", 304)]
    [InlineData("qwen2", 304)]
    public void Forward_RandomQ8Model_RepackedMatchesFileLayout(string arch, int vocab)
    {
        // Vocabulary 300 leaves the output rows outside octets (file layout) next to octet matrices; 304 repacks the tied embedding too.
        var path = Path.Combine(Path.GetTempPath(), $"basalt-octet-model-{arch}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var shape = new ModelShape(arch, 256, 2, 4, 2, 64, 512, vocab, Tied: arch != "llama");
        RandomModel.Write(path, shape, RandomModel.TypePolicy("Q8_0", shape), seed: 5);
        try
        {
            using var file = GgufFile.Open(path);
            using var pool = new WorkerPool(2);
            var architecture = Architecture.For(file);
            var config = architecture.ReadConfig(file);
            using var packedWeights = architecture.Bind(file, config);
            using var rowWeights = architecture.Bind(file, config, repack: false);
            var packed = new Transformer(config, packedWeights, pool);
            var rows = new Transformer(config, rowWeights, pool);
            if (Q8Octets.Supports(GgmlType.Q8_0, 8, 256))
                Assert.True(packedWeights.RepackedBytes > 0);
            Assert.Equal(0, rowWeights.RepackedBytes);

            // A prompt of 20 tokens (prompt tiles: the octets are the panel, the same sums as the file's panel), then decode steps
            // (one token), then four sequences at once (small batch).
            int[] prompt = [.. Enumerable.Range(0, 20).Select(i => (i * 37 + 3) % vocab)];
            var a = Run(packed, config, prompt);
            var b = Run(rows, config, prompt);
            for (var step = 0; step < a.Length; step++)
            {
                var scale = b[step].Max(Math.Abs);
                var worst = 0.0;
                for (var i = 0; i < vocab; i++)
                    worst = Math.Max(worst, Math.Abs(a[step][i] - b[step][i]));
                Assert.True(worst <= LayoutTolerance * scale, $"{arch} step {step}: {worst:G4} over {LayoutTolerance} x {scale:G4}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    // The last prompt token's logits, then three one-token decode steps' logits, then one step of four sequences (each its own cache
    // holding the prompt) whose logits follow.
    private static float[][] Run(Transformer model, ModelConfig config, int[] prompt)
    {
        const int context = 32;
        var results = new List<float[]>();
        var state = new BatchState(config, 20, context);
        var caches = Enumerable.Range(0, 4).Select(_ => new KvCache(config, context, KvCacheType.F32)).ToArray();
        foreach (var cache in caches)
        {
            var batch = new BatchToken[prompt.Length];
            for (var i = 0; i < prompt.Length; i++)
                batch[i] = new BatchToken(cache, prompt[i], i, i == prompt.Length - 1 ? 0 : -1);
            model.Forward(state, batch);
        }
        results.Add(state.Logits(0).ToArray());
        var pos = prompt.Length;
        for (var step = 0; step < 3; step++, pos++)
        {
            model.Forward(state, [new BatchToken(caches[0], 7 + step, pos, 0)]);
            results.Add(state.Logits(0).ToArray());
        }
        model.Forward(state, [new BatchToken(caches[0], 9, pos, 0), new BatchToken(caches[1], 10, prompt.Length, 1),
            new BatchToken(caches[2], 11, prompt.Length, 2), new BatchToken(caches[3], 12, prompt.Length, 3)]);
        for (var j = 0; j < 4; j++)
            results.Add(state.Logits(j).ToArray());
        return [.. results];
    }

    [Fact]
    public void Load_Q8Model_HoldsOneCopyOfTheRepackedWeights()
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-octet-load-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var shape = new ModelShape("llama", 512, 2, 8, 2, 64, 1024, 512, Tied: true);
        RandomModel.Write(path, shape, RandomModel.TypePolicy("Q8_0", shape), seed: 3);
        try
        {
            long matrices;
            using (var file = GgufFile.Open(path))
                matrices = file.Tensors.Where(t => t.Type == GgmlType.Q8_0).Sum(t => t.ByteSize);
            using var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1 });
            if (!Q8Octets.Supports(GgmlType.Q8_0, 8, 512))
                return;
            // Every Q8_0 matrix here splits into octets: all of them are held repacked, none twice.
            Assert.Equal(matrices, model.RepackedWeightBytes);
            if (!OperatingSystem.IsLinux())
                return;
            // The file's pages for those weights were released after the copy: what the mapping keeps resident is the header and the
            // float vectors, far below the weights.
            var resident = MappedResidentBytes(path);
            Assert.True(resident < matrices / 4, $"{resident} bytes of the file stay resident next to {matrices} bytes of repacked weights");
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Rss of this process's mappings of the file, from /proc/self/smaps.
    internal static long MappedResidentBytes(string path)
    {
        long total = 0;
        var inFile = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 5 && parts[0].Contains('-') && !parts[0].EndsWith(':'))
            {
                inFile = line.EndsWith(path, StringComparison.Ordinal);
                continue;
            }
            if (inFile && parts.Length >= 2 && parts[0] == "Rss:")
                total += long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
        }
        return total;
    }
}
