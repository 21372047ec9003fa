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
            var layer = architecture.Bind(file, c).Layers[0];
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
                job.SetGated(inputs[n], gate, hg, up, hu, c.Activation, layer.Down.Type);
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
            var layer = architecture.Bind(file, c).Layers[0];
            job.Set(1, new float[c.Dim], c.Dim, layer.Q, new float[c.QDim], c.QDim);
            Assert.Throws<InvalidOperationException>(() => job.SetQuantizedInput(layer.Down, new float[c.Dim], c.Dim));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
