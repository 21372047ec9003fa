using System.Text;
using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Tests.Models;

/// <summary>Tests that read <see cref="RepackedStore.LiveBytes"/>, a count over the whole process: they run alone, after the others.</summary>
[CollectionDefinition(nameof(NativeWeightsCollection), DisableParallelization = true)]
public sealed class NativeWeightsCollection;

/// <summary>A load that fails after copying weights into native memory frees them.</summary>
[Collection(nameof(NativeWeightsCollection))]
public sealed class LoadFailureTests
{
    private static string WriteModel(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-loadfail-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var shape = new ModelShape("llama", 256, 2, 4, 2, 64, 512, 304, Tied: true);
        RandomModel.Write(path, shape, RandomModel.TypePolicy("Q8_0", shape), seed: 9);
        return path;
    }

    // Overwrites the first occurrence of `find` (followed by `skip` bytes) with `replacement` of the same length.
    private static void Patch(string path, string find, int skip, string replacement)
    {
        var bytes = File.ReadAllBytes(path);
        var at = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(find));
        Assert.True(at >= 0, $"'{find}' not in {path}");
        Encoding.UTF8.GetBytes(replacement).CopyTo(bytes, at + find.Length + skip);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void Load_ValidModel_HoldsNativeWeightsUntilDisposed()
    {
        var path = WriteModel("valid");
        try
        {
            var before = RepackedStore.LiveBytes;
            var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1 });
            Assert.Equal(before + model.RepackedWeightBytes, RepackedStore.LiveBytes);
            if (Q8Octets.Supports(GgmlType.Q8_0, 8, 256) || OperatingSystem.IsLinux())
                Assert.True(model.RepackedWeightBytes > 0, "the Q8_0 matrices are held in native memory");
            model.Dispose();
            Assert.Equal(before, RepackedStore.LiveBytes);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_TokenizerBrokenAfterValidWeights_ThrowsAndFreesTheNativeWeights()
    {
        var path = WriteModel("tokenizer");
        // tokenizer.ggml.model = "llama" (after the key: a uint32 type and a uint64 length) becomes an unknown tokenizer; the weights
        // bind before the tokenizer is read.
        Patch(path, GgufKeys.TokenizerModel, 12, "bogus");
        try
        {
            var before = RepackedStore.LiveBytes;
            var e = Assert.Throws<NotSupportedException>(() => LanguageModel.Load(path, new ModelLoadOptions { Threads = 1 }));
            Assert.Contains("bogus", e.Message);
            Assert.Equal(before, RepackedStore.LiveBytes);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_TensorMissingInTheLastLayer_ThrowsAndFreesTheLayersAlreadyCopied()
    {
        var path = WriteModel("tensor");
        // blk.1.ffn_down.weight is bound after every matrix of layer 0 and the first of layer 1 were copied.
        Patch(path, "blk.1.ffn_dow", 0, "X");
        try
        {
            var before = RepackedStore.LiveBytes;
            var e = Assert.Throws<GgufFormatException>(() => LanguageModel.Load(path, new ModelLoadOptions { Threads = 1 }));
            Assert.Contains("blk.1.ffn_down.weight", e.Message);
            Assert.Equal(before, RepackedStore.LiveBytes);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
