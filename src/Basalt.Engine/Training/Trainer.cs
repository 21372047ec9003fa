using System.Globalization;
using Basalt.Engine.Gguf;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Training;

/// <summary>Trains a <see cref="TrainableModel"/> with AdamW (linear warm-up, cosine decay, global-norm clipping), fully or through
/// LoRA adapters. Deterministic: the same batches in the same order give bit-identical weights, interrupted or not, since every
/// reduction has a fixed order whatever the thread count does.</summary>
public sealed class Trainer : IDisposable
{
    private const string CheckpointFormat = "basalt.checkpoint.format";
    private const string KeyStep = "basalt.checkpoint.step";
    private const string KeyOption = "basalt.checkpoint.option.";
    private const string TensorM = "basalt.adam.m";
    private const string TensorV = "basalt.adam.v";
    private const string TensorLora = "basalt.lora.params";
    private const string TensorBase = "basalt.lora.base.";
    // Elements per optimizer work item.
    private const int UpdateChunk = 16 * 1024;

    private readonly WorkerPool _pool;
    private readonly TrainingGraph _graph;
    private readonly float[] _grad;
    private readonly float[] _trainable, _trainableGrad, _m, _v;
    private readonly (int Offset, int Length, bool Decay)[] _chunks;
    private readonly LoraAdapters? _lora;
    private readonly RowsJob _updateJob;
    private float _lr, _clipScale;

    /// <summary>A trainer over <paramref name="model"/> (whose parameters it updates in place) with <paramref name="options"/>.</summary>
    public Trainer(TrainableModel model, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Model = model;
        Options = options;
        _pool = new WorkerPool(options.Threads);
        _graph = new TrainingGraph(model, options.BatchSize, options.SequenceLength, _pool);
        _grad = new float[model.Parameters.Length];
        var chunks = new List<(int, int, bool)>();
        if (options.LoraRank > 0)
        {
            _lora = new LoraAdapters(model, options.LoraRank, options.LoraAlpha, options.Seed);
            _trainable = _lora.Parameters;
            _trainableGrad = new float[_trainable.Length];
            for (var o = 0; o < _trainable.Length; o += UpdateChunk)
                chunks.Add((o, Math.Min(UpdateChunk, _trainable.Length - o), true));
        }
        else
        {
            _trainable = model.Parameters;
            _trainableGrad = _grad;
            foreach (var t in model.Tensors)
                for (var o = 0; o < t.Length; o += UpdateChunk)
                    chunks.Add((t.Offset + o, Math.Min(UpdateChunk, t.Length - o), t.Decay));
        }
        _chunks = [.. chunks];
        _m = new float[_trainable.Length];
        _v = new float[_trainable.Length];
        _updateJob = new RowsJob(UpdateChunks);
    }

    /// <summary>The model being trained.</summary>
    public TrainableModel Model { get; }
    /// <summary>The settings.</summary>
    public TrainingOptions Options { get; }
    /// <summary>Steps taken so far.</summary>
    public int Step { get; private set; }
    /// <summary>Parameters the optimizer updates (all of them, or the LoRA adapters').</summary>
    public long TrainableParameterCount => _trainable.Length;
    /// <summary>The LoRA adapters, when <see cref="TrainingOptions.LoraRank"/> is set.</summary>
    internal LoraAdapters? Lora => _lora;
    internal TrainingGraph Graph => _graph;
    internal float[] Gradient => _trainableGrad;

    /// <summary>Learning rate at step <paramref name="step"/> (0-based): linear warm-up, then cosine decay to the minimum at TotalSteps.</summary>
    public float LearningRateAt(int step)
    {
        var o = Options;
        if (step < o.WarmupSteps)
            return o.LearningRate * (step + 1) / (o.WarmupSteps + 1);
        var span = Math.Max(1, o.TotalSteps - o.WarmupSteps);
        var progress = Math.Min(1.0, (double)(step - o.WarmupSteps) / span);
        return (float)(o.MinLearningRate + 0.5 * (o.LearningRate - o.MinLearningRate) * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Computes the loss and gradient of <paramref name="batch"/> (at most BatchSize examples) and applies one AdamW step.</summary>
    public StepResult TrainStep(IReadOnlyList<TrainingExample> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
            throw new ArgumentException("A training step needs at least one example.", nameof(batch));
        var loss = ComputeGradient(batch);
        var tokens = _graph.CountedTokens;
        // Global gradient norm in double, in parameter order.
        double sumSquares = 0;
        foreach (var g in _trainableGrad)
            sumSquares += (double)g * g;
        var norm = Math.Sqrt(sumSquares);
        _clipScale = Options.GradientClip > 0 && norm > Options.GradientClip ? (float)(Options.GradientClip / norm) : 1f;
        _lr = LearningRateAt(Step);
        Step++;
        _pool.Run(_updateJob, _chunks.Length, 1);
        _lora?.Merge();
        return new StepResult(Step, tokens > 0 ? loss / tokens : 0, norm, _lr, tokens);
    }

    /// <summary>Forward and backward over <paramref name="batch"/>; leaves the gradient of the mean loss in <see cref="Gradient"/> and returns the summed loss.</summary>
    internal double ComputeGradient(IReadOnlyList<TrainingExample> batch)
    {
        _graph.SetBatch(batch, 0, batch.Count);
        var loss = _graph.Forward(withGrad: true);
        Array.Clear(_grad);
        if (_graph.CountedTokens > 0)
            _graph.Backward(_grad);
        if (_lora is not null)
        {
            Array.Clear(_trainableGrad);
            _lora.Backward(_grad, _trainableGrad, _pool);
        }
        return loss;
    }

    private void UpdateChunks(int start, int end)
    {
        var o = Options;
        var b1 = o.Beta1;
        var b2 = o.Beta2;
        var correction1 = 1 - Math.Pow(b1, Step);
        var correction2 = 1 - Math.Pow(b2, Step);
        var stepSize = (float)(_lr / correction1);
        var root2 = (float)Math.Sqrt(correction2);
        var scale = _clipScale;
        for (var c = start; c < end; c++)
        {
            var (offset, length, decay) = _chunks[c];
            var shrink = decay ? 1f - _lr * o.WeightDecay : 1f;
            for (var i = offset; i < offset + length; i++)
            {
                var g = _trainableGrad[i] * scale;
                var m = _m[i] = b1 * _m[i] + (1 - b1) * g;
                var v = _v[i] = b2 * _v[i] + (1 - b2) * g * g;
                _trainable[i] = _trainable[i] * shrink - stepSize * m / (MathF.Sqrt(v) / root2 + o.Epsilon);
            }
        }
    }

    /// <summary>Mean loss per counted token of <paramref name="examples"/>, in batches of BatchSize, without changing the model.</summary>
    public double Evaluate(IReadOnlyList<TrainingExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        double total = 0;
        long tokens = 0;
        for (var i = 0; i < examples.Count; i += Options.BatchSize)
        {
            var count = Math.Min(Options.BatchSize, examples.Count - i);
            _graph.SetBatch(examples, i, count);
            total += _graph.Forward(withGrad: false);
            tokens += _graph.CountedTokens;
        }
        return tokens > 0 ? total / tokens : double.NaN;
    }

    /// <summary>Logits of the last position of <paramref name="tokens"/> from the trainer's own forward pass.</summary>
    public float[] LastLogits(int[] tokens)
    {
        var extended = new int[tokens.Length + 1];
        tokens.CopyTo(extended, 0);
        _graph.SetBatch([new TrainingExample(extended, new bool[extended.Length])], 0, 1);
        _graph.Forward(withGrad: false);
        var v = Model.Shape.VocabSize;
        return _graph.Logits.AsSpan((tokens.Length - 1) * v, v).ToArray();
    }

    /// <summary>Writes weights, AdamW moments, step and options to <paramref name="path"/> (a GGUF the engine can also load), atomically.</summary>
    public void SaveCheckpoint(string path)
    {
        var extra = new List<KeyValuePair<string, GgufMetadataValue>>
        {
            new(CheckpointFormat, GgufMetadataValue.From(1u)),
            new(KeyStep, GgufMetadataValue.From((uint)Step)),
        };
        foreach (var (name, value) in OptionValues(Options))
            extra.Add(new(KeyOption + name, GgufMetadataValue.From(value)));
        var w = Model.BuildGguf(GgmlType.F32, extra);
        w.AddTensor(TensorM, GgmlType.F32, [_m.Length], _m);
        w.AddTensor(TensorV, GgmlType.F32, [_v.Length], _v);
        if (_lora is not null)
        {
            w.AddTensor(TensorLora, GgmlType.F32, [_lora.Parameters.Length], _lora.Parameters);
            foreach (var a in _lora.Adapted)
                w.AddTensor(TensorBase + a.Tensor.Name, GgmlType.F32, [a.Base.Length], a.Base);
        }
        TrainableModel.WriteAtomically(w, path);
    }

    /// <summary>Restores a trainer saved by <see cref="SaveCheckpoint"/>; <paramref name="threads"/> may differ from the saved run's without changing results.</summary>
    public static Trainer LoadCheckpoint(string path, int? threads = null)
    {
        using var file = GgufFile.Open(path);
        if (!file.ContainsKey(CheckpointFormat))
            throw new GgufFormatException(file.Name, "not a Basalt training checkpoint (no basalt.checkpoint.format)");
        var model = TrainableModel.FromGguf(file);
        var options = ReadOptions(file);
        if (threads is { } t)
            options = options with { Threads = t };
        var trainer = new Trainer(model, options) { Step = (int)file.GetUInt32(KeyStep) };
        Read(file, TensorM, trainer._m);
        Read(file, TensorV, trainer._v);
        if (trainer._lora is { } lora)
        {
            Read(file, TensorLora, lora.Parameters);
            foreach (var a in lora.Adapted)
                Read(file, TensorBase + a.Tensor.Name, a.Base);
        }
        return trainer;
    }

    private static void Read(GgufFile file, string name, float[] destination)
    {
        var info = file.GetTensor(name);
        var data = file.TensorFloats(info);
        if (data.Length != destination.Length)
            throw new GgufFormatException(file.Name, $"checkpoint tensor '{name}' has {data.Length} values, expected {destination.Length}");
        data.CopyTo(destination);
    }

    private static IEnumerable<(string, string)> OptionValues(TrainingOptions o)
    {
        static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        yield return ("learning_rate", F(o.LearningRate));
        yield return ("min_learning_rate", F(o.MinLearningRate));
        yield return ("warmup_steps", I(o.WarmupSteps));
        yield return ("total_steps", I(o.TotalSteps));
        yield return ("batch_size", I(o.BatchSize));
        yield return ("sequence_length", I(o.SequenceLength));
        yield return ("weight_decay", F(o.WeightDecay));
        yield return ("gradient_clip", F(o.GradientClip));
        yield return ("beta1", F(o.Beta1));
        yield return ("beta2", F(o.Beta2));
        yield return ("epsilon", F(o.Epsilon));
        yield return ("seed", I(o.Seed));
        yield return ("lora_rank", I(o.LoraRank));
        yield return ("lora_alpha", F(o.LoraAlpha));
        yield return ("threads", I(o.Threads));
    }

    private static TrainingOptions ReadOptions(GgufFile file)
    {
        float F(string name) => float.Parse(file.GetString(KeyOption + name), CultureInfo.InvariantCulture);
        int I(string name) => int.Parse(file.GetString(KeyOption + name), CultureInfo.InvariantCulture);
        return new TrainingOptions
        {
            LearningRate = F("learning_rate"),
            MinLearningRate = F("min_learning_rate"),
            WarmupSteps = I("warmup_steps"),
            TotalSteps = I("total_steps"),
            BatchSize = I("batch_size"),
            SequenceLength = I("sequence_length"),
            WeightDecay = F("weight_decay"),
            GradientClip = F("gradient_clip"),
            Beta1 = F("beta1"),
            Beta2 = F("beta2"),
            Epsilon = F("epsilon"),
            Seed = I("seed"),
            LoraRank = I("lora_rank"),
            LoraAlpha = F("lora_alpha"),
            Threads = I("threads"),
        };
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose() => _pool.Dispose();
}
