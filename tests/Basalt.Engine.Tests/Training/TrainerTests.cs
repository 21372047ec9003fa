using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Threading;
using Basalt.Engine.Training;

namespace Basalt.Engine.Tests.Training;

public sealed class TrainerTests
{
    // Small enough to check in milliseconds, with GQA (4 query heads over 2 KV heads) and two blocks.
    private static readonly TrainingShape Tiny = new(16, 2, 4, 2, 24, 40, 16, Tied: false);

    private static TrainableModel RandomModel(TrainingShape shape, int seed)
    {
        var model = TrainableModel.CreateRandom(shape, seed);
        // Larger weights than the training init and non-unit norm weights, so every path carries a clearly non-zero gradient.
        var rng = new Basalt.Engine.Generation.Rng((ulong)seed + 7);
        foreach (var t in model.Tensors)
        {
            var span = model.Parameters.AsSpan(t.Offset, t.Length);
            for (var i = 0; i < span.Length; i++)
                span[i] = t.Decay ? span[i] * 15f : 0.6f + 0.8f * (float)rng.NextDouble();
        }
        return model;
    }

    private static TrainingExample[] Batch(int vocab)
    {
        // Two sequences of different lengths; the second masks its first half, as fine-tuning masks a prompt.
        var a = new int[] { 1, 5, 9, 3, 7, 2, 11, 4, 6 };
        var b = new int[] { 3, 8, 1, 12, 5 };
        var mask = new bool[] { false, false, false, true, true };
        for (var i = 0; i < a.Length; i++) a[i] %= vocab;
        for (var i = 0; i < b.Length; i++) b[i] %= vocab;
        return [new TrainingExample(a), new TrainingExample(b, mask)];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainStep_Gradients_MatchCentralFiniteDifferences(bool tied)
    {
        var shape = Tiny with { Tied = tied };
        var model = RandomModel(shape, 3);
        using var trainer = new Trainer(model, new TrainingOptions { BatchSize = 2, SequenceLength = 12, Threads = 2 });
        var batch = Batch(shape.VocabSize);
        trainer.ComputeGradient(batch);
        var grad = (float[])trainer.Gradient.Clone();
        var rng = new Basalt.Engine.Generation.Rng(99);
        // Per tensor: the directional derivative along a random direction confined to that tensor, which exercises every element
        // of every parameter kind at once. The loss is float: h = 3e-3 keeps the rounding error of the difference near 1e-4 while
        // the curvature term (these weights are 15x the init) stays small; h = 1e-2 was measured 3 % off on the embedding.
        // Tolerance: 2 % relative plus 2e-4 absolute.
        foreach (var t in model.Tensors)
        {
            var direction = new float[t.Length];
            double analytic = 0;
            for (var i = 0; i < t.Length; i++)
            {
                direction[i] = (float)(2 * rng.NextDouble() - 1);
                analytic += (double)direction[i] * grad[t.Offset + i];
            }
            const float h = 3e-3f;
            var saved = model.Parameters.AsSpan(t.Offset, t.Length).ToArray();
            for (var i = 0; i < t.Length; i++) model.Parameters[t.Offset + i] = saved[i] + h * direction[i];
            var plus = trainer.Evaluate(batch);
            for (var i = 0; i < t.Length; i++) model.Parameters[t.Offset + i] = saved[i] - h * direction[i];
            var minus = trainer.Evaluate(batch);
            saved.CopyTo(model.Parameters.AsSpan(t.Offset, t.Length));
            var numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(analytic) > 1e-3, $"{t.Name}: gradient {analytic} too small to check");
            Assert.True(Math.Abs(analytic - numeric) <= 2e-4 + 0.02 * Math.Abs(numeric),
                $"{t.Name}: analytic {analytic}, finite difference {numeric}");
        }
    }

    [Fact]
    public void TrainStep_TinyCorpus_LossFalls()
    {
        var shape = new TrainingShape(32, 2, 4, 2, 64, 24, 32, Tied: true);
        var model = TrainableModel.CreateRandom(shape, 1);
        var options = new TrainingOptions { BatchSize = 4, SequenceLength = 16, LearningRate = 3e-3f, MinLearningRate = 3e-4f, WarmupSteps = 5, TotalSteps = 60, Threads = 2 };
        using var trainer = new Trainer(model, options);
        // A repeating pattern: after a few dozen steps the model should predict most of it.
        var examples = new TrainingExample[4];
        for (var e = 0; e < examples.Length; e++)
        {
            var tokens = new int[17];
            for (var i = 0; i < tokens.Length; i++) tokens[i] = (e + i * 3) % 11 + 2;
            examples[e] = new TrainingExample(tokens);
        }
        var before = trainer.Evaluate(examples);
        StepResult last = default;
        for (var s = 0; s < 60; s++)
            last = trainer.TrainStep(examples);
        var after = trainer.Evaluate(examples);
        Assert.True(before > 2.5, $"initial loss {before}");
        Assert.True(after < 0.5 * before, $"loss {before} -> {after}");
        Assert.Equal(60, last.Step);
        Assert.Equal(64, last.Tokens);
    }

    [Fact]
    public void LearningRateAt_WarmupThenCosine_ReachesMinimumAtEnd()
    {
        var model = TrainableModel.CreateRandom(Tiny, 1);
        using var trainer = new Trainer(model, new TrainingOptions { LearningRate = 1e-3f, MinLearningRate = 1e-4f, WarmupSteps = 9, TotalSteps = 109, BatchSize = 1, SequenceLength = 4, Threads = 1 });
        Assert.Equal(1e-4f, trainer.LearningRateAt(0), 6);
        Assert.Equal(1e-3f, trainer.LearningRateAt(9), 6);
        Assert.Equal(5.5e-4f, trainer.LearningRateAt(59), 6);
        Assert.Equal(1e-4f, trainer.LearningRateAt(109), 6);
    }

    [Fact]
    public void SaveCheckpoint_ResumedRun_BitIdenticalToUninterrupted()
    {
        var options = new TrainingOptions { BatchSize = 2, SequenceLength = 12, WarmupSteps = 2, TotalSteps = 8, Threads = 2 };
        var batch = Batch(Tiny.VocabSize);
        using var straight = new Trainer(TrainableModel.CreateRandom(Tiny, 5), options);
        for (var s = 0; s < 8; s++)
            straight.TrainStep(batch);

        var path = Path.Combine(Path.GetTempPath(), $"basalt-ckpt-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var first = new Trainer(TrainableModel.CreateRandom(Tiny, 5), options))
            {
                for (var s = 0; s < 3; s++)
                    first.TrainStep(batch);
                first.SaveCheckpoint(path);
            }
            // Resumed with one thread: the work partition must not change the bits.
            using var resumed = Trainer.LoadCheckpoint(path, threads: 1);
            Assert.Equal(3, resumed.Step);
            for (var s = 3; s < 8; s++)
                resumed.TrainStep(batch);
            Assert.Equal(straight.Model.Parameters, resumed.Model.Parameters);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ExportGguf_EngineForward_MatchesTrainerLogits()
    {
        var vocabulary = BpeTrainer.Train(["the cat sat on the mat and the dog sat on the log"], 280);
        var shape = new TrainingShape(32, 2, 4, 2, 48, vocabulary.Count, 32, Tied: false);
        var model = RandomModel(shape, 11);
        model.SetVocabulary(vocabulary.ToMetadata());
        var path = Path.Combine(Path.GetTempPath(), $"basalt-export-{Guid.NewGuid():N}.gguf");
        try
        {
            model.ExportGguf(path, GgmlType.F32);
            using var trainer = new Trainer(model, new TrainingOptions { BatchSize = 1, SequenceLength = 16, Threads = 2 });
            int[] tokens = [3, 100, 7, 250, 42, 9];
            var expected = trainer.LastLogits(tokens);
            using var engine = LanguageModel.Load(path, new ModelLoadOptions { Threads = 2 });
            var state = new BatchState(engine.Config, tokens.Length, 16) { ExactActivations = true };
            var cache = new KvCache(engine.Config, 16, KvCacheType.F32);
            var batch = new BatchToken[tokens.Length];
            for (var p = 0; p < tokens.Length; p++)
                batch[p] = new BatchToken(cache, tokens[p], p, p == tokens.Length - 1 ? 0 : -1);
            engine.Transformer.Forward(state, batch);
            var logits = state.Logits(0);
            // Float rounding of two different summation orders over 6 positions and 2 blocks: 1e-3 absolute on logits of size ~10.
            for (var i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - logits[i]) < 1e-3, $"logit {i}: trainer {expected[i]}, engine {logits[i]}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TrainStep_Lora_BaseFrozenAndExportEqualsBasePlusBA()
    {
        var vocabulary = BpeTrainer.Train(["a small text for a small vocabulary"], 270);
        var shape = new TrainingShape(32, 1, 4, 2, 48, vocabulary.Count, 16, Tied: true);
        var model = TrainableModel.CreateRandom(shape, 2);
        model.SetVocabulary(vocabulary.ToMetadata());
        var original = (float[])model.Parameters.Clone();
        var options = new TrainingOptions { BatchSize = 2, SequenceLength = 12, LoraRank = 4, LoraAlpha = 8, LearningRate = 1e-2f, Threads = 2 };
        using var trainer = new Trainer(model, options);
        var batch = Batch(shape.VocabSize);
        for (var s = 0; s < 5; s++)
            trainer.TrainStep(batch);
        var lora = trainer.Lora!;
        Assert.Equal(lora.Parameters.Length, trainer.TrainableParameterCount);

        var path = Path.Combine(Path.GetTempPath(), $"basalt-lora-{Guid.NewGuid():N}.gguf");
        try
        {
            model.ExportGguf(path, GgmlType.F32);
            var exported = TrainableModel.FromGguf(path);
            var adapted = new HashSet<string>();
            foreach (var a in lora.Adapted)
            {
                adapted.Add(a.Tensor.Name);
                var (rows, cols, r) = (a.Tensor.Rows, a.Tensor.Cols, lora.Rank);
                var changed = false;
                for (var o = 0; o < rows; o++)
                    for (var i = 0; i < cols; i++)
                    {
                        double ba = 0;
                        for (var k = 0; k < r; k++)
                            ba += (double)lora.Parameters[a.B + o * r + k] * lora.Parameters[a.A + k * cols + i];
                        var expected = original[a.Tensor.Offset + o * cols + i] + lora.Scale * ba;
                        var actual = exported.Parameters[a.Tensor.Offset + o * cols + i];
                        Assert.True(Math.Abs(expected - actual) < 1e-5, $"{a.Tensor.Name}[{o},{i}]: {actual} != base + BA {expected}");
                        changed |= ba != 0;
                    }
                Assert.True(changed, $"{a.Tensor.Name}: the adapter never moved");
            }
            foreach (var t in model.Tensors)
                if (!adapted.Contains(t.Name))
                    Assert.Equal(original.AsSpan(t.Offset, t.Length).ToArray(), exported.Parameters.AsSpan(t.Offset, t.Length).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TrainStep_ExampleLongerThanSequence_ClearError()
    {
        using var trainer = new Trainer(TrainableModel.CreateRandom(Tiny, 1), new TrainingOptions { BatchSize = 1, SequenceLength = 4, Threads = 1 });
        var e = Assert.Throws<ArgumentException>(() => trainer.TrainStep([new TrainingExample([1, 2, 3, 4, 5, 6])]));
        Assert.Contains("2 to 5", e.Message);
    }
}
