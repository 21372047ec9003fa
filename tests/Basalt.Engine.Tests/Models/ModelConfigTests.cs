using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Models;

public sealed class ModelConfigTests
{
    // Llama 3.1's published rope_scaling: factor 8, low 1, high 4, original context 8192.
    private static readonly Llama3RopeScaling Llama31 = new(8f, 1f, 4f, 8192);

    [Fact]
    public void Llama3Divisor_HighFrequency_Unscaled()
    {
        // Wavelength 2π/1 ≈ 6 tokens, far below 8192/4: untouched.
        Assert.Equal(1f, Llama31.Divisor(1.0));
    }

    [Fact]
    public void Llama3Divisor_LowFrequency_DividedByFactor()
    {
        // Wavelength 2π/1e-4 ≈ 62832 tokens, above 8192/1: divided by the full factor.
        Assert.Equal(8f, Llama31.Divisor(1e-4));
    }

    [Fact]
    public void Llama3Divisor_BetweenBands_InterpolatesSmoothly()
    {
        // Wavelength 4096 lies between 2048 and 8192: smooth = (8192/4096 - 1) / (4 - 1) = 1/3,
        // scaled frequency = (1 - 1/3) * f / 8 + 1/3 * f, so the divisor is 1 / (2/24 + 1/3) = 2.4.
        var freq = 2 * Math.PI / 4096;
        Assert.Equal(2.4f, Llama31.Divisor(freq), 4);
    }

    [Fact]
    public void ReadConfig_Stories260K_ReadsTheFileShape()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        using var file = GgufFile.Open(path);
        var c = Architecture.For(file).ReadConfig(file);
        Assert.Equal((64, 5, 8, 4, 8, 172, 512), (c.Dim, c.Layers, c.Heads, c.KvHeads, c.HeadDim, c.FfnDim, c.VocabSize));
        Assert.Equal(RopeStyle.Normal, c.RopeStyle);
    }

    [Fact]
    public void ReadConfig_Llama3ScalingKeys_AreApplied()
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-llama3-keys-{Environment.ProcessId}.gguf");
        try
        {
            var shape = new ModelShape("llama", 64, 1, 2, 1, 32, 64, 300, Tied: true);
            RandomModel.Write(path, shape, _ => GgmlType.F32, seed: 3);
            // Re-write with the scaling keys added: copy metadata through the writer.
            using (var source = GgufFile.Open(path))
            {
                var w = new GgufWriter();
                foreach (var (key, value) in source.Metadata)
                    w.Add(key, value);
                w.Add("llama.rope.scaling.type", "llama3");
                w.Add("llama.rope.scaling.factor", 8f);
                w.Add("llama.rope.scaling.low_freq_factor", 1f);
                w.Add("llama.rope.scaling.high_freq_factor", 4f);
                w.Add("llama.rope.scaling.original_context_length", 8192u);
                foreach (var t in source.Tensors)
                    w.AddTensorBytes(t.Name, t.Type, [.. t.Dimensions], source.TensorData(t));
                File.WriteAllBytes(path + ".2", w.ToArray());
            }
            using var file = GgufFile.Open(path + ".2");
            var c = Architecture.For(file).ReadConfig(file);
            Assert.Equal(Llama31, c.Llama3Rope);
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".2");
        }
    }

    [Fact]
    public void FitRow_KQuantOnRowsNotMultipleOf256_FallsBackLikeLlamaCpp()
    {
        Assert.Equal(GgmlType.Q4_K, RandomModel.FitRow(GgmlType.Q4_K, 1536));
        Assert.Equal(GgmlType.Q5_0, RandomModel.FitRow(GgmlType.Q4_K, 576));
        Assert.Equal(GgmlType.Q8_0, RandomModel.FitRow(GgmlType.Q6_K, 576));
    }
}
