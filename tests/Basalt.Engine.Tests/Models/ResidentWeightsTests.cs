using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Tensors;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Tests.Models;

/// <summary>Weights held in huge-page native memory (copied unchanged, or Q8_0 repacked) instead of the file's mapping.</summary>
public sealed unsafe class ResidentWeightsTests
{
    private static string WriteModel(string arch, string types, bool tied, int vocab = 304)
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-resident-{arch}-{types}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var shape = new ModelShape(arch, 256, 2, 4, 2, 64, 512, vocab, Tied: tied);
        RandomModel.Write(path, shape, RandomModel.TypePolicy(types, shape), seed: 7);
        return path;
    }

    private static IEnumerable<WeightMatrix> Matrices(ModelWeights w)
    {
        yield return w.TokenEmbedding;
        yield return w.Output;
        foreach (var l in w.Layers)
        {
            if (l.Qkv is { } qkv)
                yield return qkv;
            else
            {
                yield return l.Q;
                yield return l.K;
                yield return l.V;
            }
            yield return l.Output;
            if (!l.FusedGateUp)
                yield return l.Gate;
            yield return l.Up;
            yield return l.Down;
        }
    }

    [Theory]
    [InlineData("llama", "F16", false)]
    [InlineData("llama", "Q4_K_M", true)]
    [InlineData("phi3", "Q5_0", false)]
    [InlineData("qwen2", "Q8_0", true)]
    public void Bind_RandomModel_EveryMatrixInNativeMemoryWithTheFilesBytes(string arch, string types, bool tied)
    {
        var path = WriteModel(arch, types, tied);
        try
        {
            using var file = GgufFile.Open(path);
            var architecture = Architecture.For(file);
            var config = architecture.ReadConfig(file);
            using var weights = architecture.Bind(file, config);
            if (!OperatingSystem.IsLinux())
                return;
            var expectedBytes = 0L;
            var seen = new HashSet<string>();
            var scratch = new byte[1 << 16];
            foreach (var m in Matrices(weights))
            {
                var t = file.GetTensor(m.Name);
                var mapped = file.TensorPointer(t);
                Assert.True(m.Data < mapped || m.Data >= mapped + t.ByteSize, $"'{m.Name}' still reads the file's mapping");
                if (seen.Add(m.Name))
                    expectedBytes += t.ByteSize;
                Assert.Equal(t.RowCount, m.Rows);
                for (var r = 0; r < m.Rows; r++)
                    Assert.True(file.TensorRow(t, r).SequenceEqual(m.RowBytesOf(r, scratch)), $"'{m.Name}' row {r} differs from the file");
            }
            // Tied embeddings share one copy; nothing is held twice.
            Assert.Equal(expectedBytes, weights.RepackedBytes);
            if (tied)
                Assert.True(weights.TokenEmbedding.Data == weights.Output.Data);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("llama", "F16", false)]
    [InlineData("llama", "Q4_K_M", true)]
    [InlineData("phi3", "Q5_0", false)]
    public void Forward_RandomModel_NativeCopyLogitsEqualMappedBitForBit(string arch, string types, bool tied)
    {
        // The copies hold the file's bytes in the file's layout and the same kernels read them: every logit is the same float.
        var path = WriteModel(arch, types, tied);
        try
        {
            using var file = GgufFile.Open(path);
            using var pool = new WorkerPool(2);
            var architecture = Architecture.For(file);
            var config = architecture.ReadConfig(file);
            using var native = architecture.Bind(file, config);
            using var mapped = architecture.Bind(file, config, repack: false);
            Assert.Equal(0, mapped.RepackedBytes);
            if (OperatingSystem.IsLinux())
                Assert.True(native.RepackedBytes > 0);
            var a = Run(new Transformer(config, native, pool), config);
            var b = Run(new Transformer(config, mapped, pool), config);
            for (var step = 0; step < a.Length; step++)
                Assert.True(a[step].AsSpan().SequenceEqual(b[step]), $"{arch} {types} step {step}: logits differ");
        }
        finally
        {
            File.Delete(path);
        }
    }

    // The prompt's last logits, then three decode steps' logits.
    private static float[][] Run(Transformer model, ModelConfig config)
    {
        const int context = 32;
        var state = new BatchState(config, 20, context);
        var cache = new KvCache(config, context, KvCacheType.F32);
        var batch = new BatchToken[20];
        for (var i = 0; i < batch.Length; i++)
            batch[i] = new BatchToken(cache, (i * 37 + 3) % config.VocabSize, i, i == batch.Length - 1 ? 0 : -1);
        model.Forward(state, batch);
        var results = new List<float[]> { state.Logits(0).ToArray() };
        for (var step = 0; step < 3; step++)
        {
            model.Forward(state, [new BatchToken(cache, 7 + step, batch.Length + step, 0)]);
            results.Add(state.Logits(0).ToArray());
        }
        return [.. results];
    }

    [Fact]
    public void Load_F16Model_HoldsOneCopyAndReleasesTheMapping()
    {
        var path = WriteModel("llama", "F16", tied: true, vocab: 512);
        try
        {
            long matrices;
            using (var file = GgufFile.Open(path))
                matrices = file.Tensors.Where(t => t.Type == GgmlType.F16).Sum(t => t.ByteSize);
            using var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1 });
            if (!OperatingSystem.IsLinux())
                return;
            Assert.Equal(matrices, model.RepackedWeightBytes);
            // The file's pages were released chunk by chunk after the copy: the mapping keeps the header and the float vectors.
            var resident = RepackedWeightsTests.MappedResidentBytes(path);
            Assert.True(resident < matrices / 4, $"{resident} bytes of the file stay resident next to {matrices} bytes of copied weights");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_KeepWeightsMapped_MatricesReadTheFileInPlace()
    {
        var path = WriteModel("llama", "Q8_0", tied: false);
        try
        {
            using var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1, KeepWeightsMapped = true });
            Assert.Equal(0, model.RepackedWeightBytes);
            var weights = model.Transformer.Weights;
            Assert.Equal(WeightLayout.Rows, weights.Layers[0].Q.Layout);
            // Every matrix still points into the file's mapping, where the file's bytes are.
            using var file = GgufFile.Open(path);
            foreach (var l in weights.Layers)
                Assert.True(file.TensorData(file.GetTensor(l.Down.Name)).SequenceEqual(l.Down.RowRange(0, l.Down.Rows)));
            Assert.Equal(weights.Output.RowBytes * weights.Output.Rows, weights.Output.RowRange(0, weights.Output.Rows).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_WeightsAboveNativeWeightLimit_KeptMappedAndSaysWhy()
    {
        var path = WriteModel("llama", "Q8_0", tied: false);
        try
        {
            long matrices;
            using (var file = GgufFile.Open(path))
                matrices = WeightBinder.MatrixBytes(file);
            // One byte short of the copy: the weights stay on the mapping, as with KeepWeightsMapped, and the model says why.
            using var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1, NativeWeightLimit = matrices - 1 });
            Assert.Equal(0, model.RepackedWeightBytes);
            Assert.Equal(new WeightMemoryFallback(matrices, matrices - 1), model.WeightsMappedForMemory);
            Assert.Contains("MiB of weights exceed", model.WeightsMappedForMemory.ToString());
            Assert.EndsWith("read from the file's mapping instead, which decodes slower", model.WeightsMappedForMemory.ToString());
            Assert.Equal(WeightLayout.Rows, model.Transformer.Weights.Layers[0].Q.Layout);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("Q8_0")]
    [InlineData("Q4_K")]
    public void MatrixBytes_PagesNotReleased_CountsOnlyTheRepackedMatrices(string types)
    {
        var path = WriteModel("llama", types, tied: false);
        try
        {
            // A file whose pages cannot be released (off Linux, or read from memory) copies only the Q8_0 matrices that split into
            // octets, so only those count against the budget: a K-quant model there must not fall back to the mapping for memory.
            using var mapped = GgufFile.Open(path);
            using var memory = GgufFile.FromBytes(File.ReadAllBytes(path), "m.gguf");
            Assert.False(memory.ReleasesPages);
            var repackable = memory.Tensors.Where(t => t.Dimensions.Count > 1 && Q8Octets.Supports(t.Type, (int)t.RowCount, (int)t.RowLength))
                .Sum(t => (t.ByteSize + 63) & ~63L);
            Assert.Equal(repackable, WeightBinder.MatrixBytes(memory));
            if (types == "Q4_K" || !Q8Octets.Supports(GgmlType.Q8_0, 8, 256))
                Assert.Equal(0, WeightBinder.MatrixBytes(memory));
            // Where pages are released, every matrix counts.
            if (mapped.ReleasesPages)
                Assert.Equal(mapped.Tensors.Where(t => t.Dimensions.Count > 1).Sum(t => (t.ByteSize + 63) & ~63L), WeightBinder.MatrixBytes(mapped));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_WeightsWithinNativeWeightLimit_CopiedWithoutFallback()
    {
        var path = WriteModel("llama", "Q8_0", tied: false);
        try
        {
            long matrices;
            using (var file = GgufFile.Open(path))
                matrices = WeightBinder.MatrixBytes(file);
            using var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1, NativeWeightLimit = matrices });
            Assert.Null(model.WeightsMappedForMemory);
            if (Q8Octets.Supports(GgmlType.Q8_0, 8, 256) || OperatingSystem.IsLinux())
                Assert.True(model.RepackedWeightBytes > 0);
            // Asking for the mapping is not a fallback.
            using var asked = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1, KeepWeightsMapped = true, NativeWeightLimit = 1 });
            Assert.Null(asked.WeightsMappedForMemory);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void NativeWeightBudget_ThisProcess_LeavesAMarginBelowTheAvailableMemory()
    {
        var budget = LanguageModel.NativeWeightBudget();
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0)
            Assert.True(budget <= available - (512L << 20), $"budget {budget} against {available} bytes available");
    }
}
