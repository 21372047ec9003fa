using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Tests.Models;

public sealed class DecodeStepTests
{
    private static void Run(WorkerPool pool, MatMulJob job)
    {
        if (job.Quantizer.Items > 0)
            pool.Run(job.Quantizer, job.Quantizer.Items, 4);
        pool.Run(job, job.TotalRows, MatMulJob.TileRows);
    }

    [Theory]
    [InlineData("llama", "Q8_0")]
    [InlineData("llama", "Q4_K")]
    [InlineData("qwen2", "F16")]
    [InlineData("gemma2", "Q4_0")] // GELU
    [InlineData("phi3", "Q6_K")] // gate and up in one tensor
    public void SetGated_ThenDown_MatchesSeparateActivationAndQuantization(string arch, string type)
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-gated-{arch}-{type}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var shape = new ModelShape(arch, 256, 1, 4, 2, 64, 512, 300, Tied: true);
        RandomModel.Write(path, shape, RandomModel.TypePolicy(type, shape), seed: 5);
        try
        {
            using var file = GgufFile.Open(path);
            var architecture = Architecture.For(file);
            var c = architecture.ReadConfig(file);
            using var weights = architecture.Bind(file, c);
            var layer = weights.Layers[0];
            int dim = c.Dim, ffn = c.FfnDim;
            var gate = layer.FusedGateUp ? layer.Up.Slice(0, ffn) : layer.Gate;
            var up = layer.FusedGateUp ? layer.Up.Slice(ffn, ffn) : layer.Up;
            var rng = new Random(3);
            var inputs = new float[2][];
            for (var n = 0; n < inputs.Length; n++)
            {
                inputs[n] = new float[dim];
                for (var i = 0; i < dim; i++)
                    inputs[n][i] = (float)(rng.NextDouble() * 2 - 1);
            }
            using var pool = new WorkerPool(2);
            var job = new MatMulJob(1, Math.Max(dim, ffn));

            // The one-step way: separate dispatches, the activation and the down projection's quantization on the calling thread.
            var hidden = new float[2][];
            var expected = new float[2][];
            for (var n = 0; n < inputs.Length; n++)
            {
                float[] g = new float[ffn], u = new float[ffn], y = new float[dim];
                job.Set(1, inputs[n], dim, gate, g, ffn, up, u, ffn);
                Run(pool, job);
                Blocks.GatedActivation(g, u, c.Activation);
                job.Set(1, g, ffn, layer.Down, y, dim);
                Run(pool, job);
                (hidden[n], expected[n]) = (g, y);
            }

            float[] hg = new float[ffn], hu = new float[ffn], actual = new float[dim];
            // Several rounds, alternating inputs so a block left unquantized would show the other input's values; the chunks fall
            // differently between the threads each time, and the result must not depend on it.
            for (var round = 0; round < 6; round++)
            {
                var n = round % 2;
                job.SetGated(1, inputs[n], dim, gate, hg, up, hu, ffn, c.Activation, layer.Down.Type);
                Run(pool, job);
                job.SetQuantizedInput(layer.Down, actual, dim);
                Run(pool, job);
                Assert.Equal(hidden[n], hg);
                Assert.Equal(expected[n], actual);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("llama", "Q8_0", 3)] // the small-batch kernels
    [InlineData("llama", "Q8_0", 21)] // the prompt tiles
    [InlineData("qwen2", "F16", 21)]
    [InlineData("gemma2", "Q4_0", 5)] // GELU
    [InlineData("phi3", "Q6_K", 19)] // gate and up in one tensor
    public void SetGated_Batch_MatchesSeparateMultiplicationsAndActivation(string arch, string type, int tokens)
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-gated-batch-{arch}-{type}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var shape = new ModelShape(arch, 256, 1, 4, 2, 64, 512, 300, Tied: true);
        RandomModel.Write(path, shape, RandomModel.TypePolicy(type, shape), seed: 7);
        try
        {
            using var file = GgufFile.Open(path);
            var architecture = Architecture.For(file);
            var c = architecture.ReadConfig(file);
            using var weights = architecture.Bind(file, c);
            var layer = weights.Layers[0];
            int dim = c.Dim, ffn = c.FfnDim;
            var gate = layer.FusedGateUp ? layer.Up.Slice(0, ffn) : layer.Gate;
            var up = layer.FusedGateUp ? layer.Up.Slice(ffn, ffn) : layer.Up;
            var rng = new Random(11);
            var x = new float[tokens * dim];
            for (var i = 0; i < x.Length; i++)
                x[i] = (float)(rng.NextDouble() * 2 - 1);
            using var pool = new WorkerPool(2);
            var job = new MatMulJob(tokens, Math.Max(dim, ffn));

            float[] g = new float[tokens * ffn], u = new float[tokens * ffn];
            job.Set(tokens, x, dim, gate, g, ffn, up, u, ffn);
            Run(pool, job);
            for (var j = 0; j < tokens; j++)
                Blocks.GatedActivation(g.AsSpan(j * ffn, ffn), u.AsSpan(j * ffn, ffn), c.Activation);

            float[] hg = new float[tokens * ffn], hu = new float[tokens * ffn];
            for (var round = 0; round < 3; round++)
            {
                hg.AsSpan().Fill(float.NaN);
                job.SetGated(tokens, x, dim, gate, hg, up, hu, ffn, c.Activation, null);
                Run(pool, job);
                Assert.Equal(g, hg);
                Assert.Equal(u, hu);
            }
            Assert.Throws<InvalidOperationException>(() => job.SetGated(tokens, x, dim, gate, hg, up, hu, ffn, c.Activation, layer.Down.Type));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(37)]
    [InlineData(1536)]
    public void GatedActivation_Silu_MatchesScalarFormula(int length)
    {
        var rng = new Random(length);
        var gate = new float[length];
        var up = new float[length];
        for (var i = 0; i < length; i++)
        {
            // Wide enough to reach exp's underflow (-87) and large positive inputs where e^-x vanishes.
            gate[i] = (float)((rng.NextDouble() * 2 - 1) * (i % 5 == 0 ? 120 : 8));
            up[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        gate[0] = 0;
        var actual = (float[])gate.Clone();
        Blocks.GatedActivation(actual, up, FfnActivation.Silu);
        for (var i = 0; i < length; i++)
        {
            var expected = (float)(gate[i] / (1 + Math.Exp(-(double)gate[i])) * up[i]);
            Assert.True(Math.Abs(actual[i] - expected) <= SiluTolerance * Math.Max(1, Math.Abs(expected)), $"at {i}: SiLU({gate[i]}) * {up[i]} = {actual[i]}, expected {expected}");
        }
    }

    // Relative error of the float SiLU against double precision: a few float ulps (the exp is ~1 ulp, then a divide and two multiplies).
    private const double SiluTolerance = 4e-7;

    [Fact]
    public void SetQuantizedInput_WithoutGatedRun_Throws()
    {
        var job = new MatMulJob(1, 64);
        var path = Path.Combine(Path.GetTempPath(), $"basalt-gated-none-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        var shape = new ModelShape("llama", 64, 1, 2, 2, 32, 128, 300, Tied: true);
        RandomModel.Write(path, shape, RandomModel.TypePolicy("Q8_0", shape), seed: 5);
        try
        {
            using var file = GgufFile.Open(path);
            var architecture = Architecture.For(file);
            var c = architecture.ReadConfig(file);
            using var weights = architecture.Bind(file, c);
            var layer = weights.Layers[0];
            job.Set(1, new float[c.Dim], c.Dim, layer.Q, new float[c.QDim], c.QDim);
            Assert.Throws<InvalidOperationException>(() => job.SetQuantizedInput(layer.Down, new float[c.Dim], c.Dim));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
