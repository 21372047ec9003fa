using Basalt.Engine.Tensors;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Models;

/// <summary>The decoder forward pass shared by every architecture: each architecture file reads its config and binds its tensors,
/// and the optional tensors (biases, QK norms, post norms, fused projections) switch the corresponding steps on.</summary>
internal sealed class Transformer
{
    public Transformer(ModelConfig config, ModelWeights weights)
    {
        Config = config;
        Weights = weights;
        InverseFrequencies = Blocks.RopeInverseFrequencies(config, config.RopeBase, weights.RopeFreqFactors);
        LocalInverseFrequencies = config.RopeBaseLocal > 0
            ? Blocks.RopeInverseFrequencies(config, config.RopeBaseLocal, null)
            : InverseFrequencies;
    }

    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    private float[] InverseFrequencies { get; }
    private float[] LocalInverseFrequencies { get; }

    /// <summary>Runs token <paramref name="token"/> at position <paramref name="pos"/>, appending to the KV cache;
    /// computes logits into the run state only when <paramref name="computeLogits"/> (prompt tokens before the last need none).</summary>
    public void Forward(ForwardContext ctx, int token, int pos, bool computeLogits)
    {
        var c = Config;
        var w = Weights;
        var s = ctx.State;
        var x = s.X.AsSpan();
        w.TokenEmbedding.DequantizeRow(token, x);
        if (c.EmbeddingScale != 1f)
            for (var i = 0; i < x.Length; i++)
                x[i] *= c.EmbeddingScale;

        var position = pos / c.RopeLinearFactor;
        Blocks.RopeTable(InverseFrequencies, position, s.RopeCos, s.RopeSin);
        if (!ReferenceEquals(LocalInverseFrequencies, InverseFrequencies))
            Blocks.RopeTable(LocalInverseFrequencies, pos, s.RopeCosLocal, s.RopeSinLocal);

        for (var l = 0; l < c.Layers; l++)
        {
            var layer = w.Layers[l];
            var local = c.SlidingLayers is { } sl && sl[l];
            Blocks.RmsNorm(x, layer.AttnNorm, s.Xb.AsSpan(0, c.Dim), c.NormEpsilon);

            if (layer.Qkv is { } qkv)
            {
                ctx.MatVec.Set(qkv, s.Xb, s.Qkv);
                ctx.Pool.Run(ctx.MatVec, qkv.Rows, ForwardContext.MinRowsPerChunk);
                s.Qkv.AsSpan(0, c.QDim).CopyTo(s.Q);
                s.Qkv.AsSpan(c.QDim, c.KDim).CopyTo(s.K);
                s.Qkv.AsSpan(c.QDim + c.KDim, c.VDim).CopyTo(s.V);
            }
            else
            {
                ctx.MatVec.Set(layer.Q, s.Xb, s.Q, layer.K, s.K, layer.V, s.V);
                ctx.Pool.Run(ctx.MatVec, ctx.MatVec.TotalRows, ForwardContext.MinRowsPerChunk);
            }
            if (layer.QBias is { } qb) Blocks.Add(s.Q, qb);
            if (layer.KBias is { } kb) Blocks.Add(s.K, kb);
            if (layer.VBias is { } vb) Blocks.Add(s.V, vb);
            if (layer.QNorm is { } qn)
                for (var h = 0; h < c.Heads; h++)
                    Blocks.RmsNorm(s.Q.AsSpan(h * c.HeadDim, c.HeadDim), qn, s.Q.AsSpan(h * c.HeadDim, c.HeadDim), c.NormEpsilon);
            if (layer.KNorm is { } kn)
                for (var h = 0; h < c.KvHeads; h++)
                    Blocks.RmsNorm(s.K.AsSpan(h * c.HeadDim, c.HeadDim), kn, s.K.AsSpan(h * c.HeadDim, c.HeadDim), c.NormEpsilon);

            var cos = local ? s.RopeCosLocal : s.RopeCos;
            var sin = local ? s.RopeSinLocal : s.RopeSin;
            if (ReferenceEquals(LocalInverseFrequencies, InverseFrequencies))
            {
                cos = s.RopeCos;
                sin = s.RopeSin;
            }
            Blocks.Rope(s.Q, c.Heads, c.HeadDim, c.RopeStyle, cos, sin);
            Blocks.Rope(s.K, c.KvHeads, c.HeadDim, c.RopeStyle, cos, sin);
            s.K.CopyTo(ctx.Cache.Keys[l].AsSpan(pos * c.KDim, c.KDim));
            s.V.CopyTo(ctx.Cache.Values[l].AsSpan(pos * c.VDim, c.VDim));

            var start = local && c.SlidingWindow > 0 ? Math.Max(0, pos - c.SlidingWindow + 1) : 0;
            ctx.Attention.Set(l, start, pos);
            ctx.Pool.Run(ctx.Attention, c.Heads);

            ctx.MatVec.Set(layer.Output, s.Xb, s.Xb2);
            ctx.Pool.Run(ctx.MatVec, layer.Output.Rows, ForwardContext.MinRowsPerChunk);
            if (layer.PostAttnNorm is { } pan)
                Blocks.RmsNorm(s.Xb2, pan, s.Xb2, c.NormEpsilon);
            Blocks.Add(x, s.Xb2);

            Blocks.RmsNorm(x, layer.FfnNorm, s.Xb.AsSpan(0, c.Dim), c.NormEpsilon);
            var gate = s.Hb.AsSpan(0, c.FfnDim);
            if (layer.FusedGateUp)
            {
                ctx.MatVec.Set(layer.Up, s.Xb, s.Hb);
                ctx.Pool.Run(ctx.MatVec, layer.Up.Rows, ForwardContext.MinRowsPerChunk);
                Blocks.GatedActivation(gate, s.Hb.AsSpan(c.FfnDim, c.FfnDim), c.Activation);
            }
            else
            {
                ctx.MatVec.Set(layer.Gate, s.Xb, s.Hb, layer.Up, s.Hb2);
                ctx.Pool.Run(ctx.MatVec, ctx.MatVec.TotalRows, ForwardContext.MinRowsPerChunk);
                Blocks.GatedActivation(gate, s.Hb2, c.Activation);
            }
            ctx.MatVec.Set(layer.Down, s.Hb, s.Xb2);
            ctx.Pool.Run(ctx.MatVec, layer.Down.Rows, ForwardContext.MinRowsPerChunk);
            if (layer.PostFfnNorm is { } pfn)
                Blocks.RmsNorm(s.Xb2, pfn, s.Xb2, c.NormEpsilon);
            Blocks.Add(x, s.Xb2);
        }

        if (!computeLogits)
            return;
        Blocks.RmsNorm(x, w.OutputNorm, x, c.NormEpsilon);
        ctx.MatVec.Set(w.Output, s.X, s.Logits);
        ctx.Pool.Run(ctx.MatVec, w.Output.Rows, ForwardContext.MinRowsPerChunk);
        if (c.FinalLogitSoftcap > 0)
            Blocks.Softcap(s.Logits, c.FinalLogitSoftcap);
    }
}

/// <summary>Everything one sequence needs to run the forward pass: its run state, KV cache, and the reusable parallel jobs.</summary>
internal sealed class ForwardContext
{
    // Rows per chunk: enough work (a few microseconds) that taking a chunk costs little next to computing it.
    public const int MinRowsPerChunk = 16;

    public ForwardContext(Transformer model, int contextLength, WorkerPool pool, bool exactActivations = false)
    {
        State = new RunState(model.Config, contextLength);
        Cache = new KvCache(model.Config, contextLength);
        Pool = pool;
        MatVec = new MatVecJob(Math.Max(Math.Max(model.Config.Dim, model.Config.FfnDim), Math.Max(model.Config.QDim, model.Config.Heads * model.Config.ValueHeadDim)), exactActivations);
        Attention = new AttentionJob(model.Config, State, Cache);
    }

    public RunState State { get; }
    public KvCache Cache { get; }
    public WorkerPool Pool { get; }
    public MatVecJob MatVec { get; }
    public AttentionJob Attention { get; }
}

/// <summary>y_i = W_i x for up to three matrices sharing one input, split by output row across the pool.
/// x is quantized once per matrix type (8-bit activations for quantized weights, as llama.cpp does) before the dispatch.</summary>
internal sealed class MatVecJob(int maxCols, bool exactActivations = false) : IRangeJob
{
    private WeightMatrix _w0, _w1, _w2;
    private float[] _y0 = [], _y1 = [], _y2 = [];
    private int _rows0, _rows01, _n0, _n1, _n2;
    // One activation buffer per matrix; each is sized for the widest encoding (F32) of the widest input.
    private readonly byte[] _x0 = new byte[4 * maxCols], _x1 = new byte[4 * maxCols], _x2 = new byte[4 * maxCols];

    public int TotalRows { get; private set; }

    public void Set(WeightMatrix w, float[] x, float[] y) => Set(w, x, y, default, [], default, []);

    public void Set(WeightMatrix w0, float[] x, float[] y0, WeightMatrix w1, float[] y1) => Set(w0, x, y0, w1, y1, default, []);

    public void Set(WeightMatrix w0, float[] x, float[] y0, WeightMatrix w1, float[] y1, WeightMatrix w2, float[] y2)
    {
        (_w0, _w1, _w2, _y0, _y1, _y2) = (w0, w1, w2, y0, y1, y2);
        _rows0 = w0.Rows;
        _rows01 = _rows0 + w1.Rows;
        TotalRows = _rows01 + w2.Rows;
        _n0 = Quantize(w0, x, _x0, default, null, 0);
        _n1 = w1.Rows == 0 ? 0 : Quantize(w1, x, _x1, w0, _x0, _n0);
        _n2 = w2.Rows == 0 ? 0 : Quantize(w2, x, _x2, w1, _x1, _n1);
    }

    private int Quantize(WeightMatrix w, float[] x, byte[] buffer, WeightMatrix previous, byte[]? previousBuffer, int previousBytes)
    {
        if (exactActivations)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan(0, w.Cols)).CopyTo(buffer);
            return 4 * w.Cols;
        }
        var bytes = TensorOps.ActivationSize(w.Type, w.Cols);
        if (previousBuffer is not null && previous.Cols == w.Cols && TensorOps.ActivationType(previous.Type) == TensorOps.ActivationType(w.Type))
            previousBuffer.AsSpan(0, previousBytes).CopyTo(buffer);
        else
            TensorOps.QuantizeActivations(w.Type, x.AsSpan(0, w.Cols), buffer.AsSpan(0, bytes));
        return bytes;
    }

    public void Execute(int start, int end)
    {
        for (var r = start; r < end; r++)
        {
            if (exactActivations)
                ExecuteExact(r);
            else if (r < _rows0)
                _y0[r] = TensorOps.DotQ8(_w0.Type, _w0.Row(r), _x0.AsSpan(0, _n0), _w0.Cols);
            else if (r < _rows01)
                _y1[r - _rows0] = TensorOps.DotQ8(_w1.Type, _w1.Row(r - _rows0), _x1.AsSpan(0, _n1), _w1.Cols);
            else
                _y2[r - _rows01] = TensorOps.DotQ8(_w2.Type, _w2.Row(r - _rows01), _x2.AsSpan(0, _n2), _w2.Cols);
        }
    }

    // Float activations against decoded weight blocks: slower, exact up to float rounding; tests use it to check the forward
    // logic apart from the activation rounding of the fast path.
    private void ExecuteExact(int r)
    {
        static ReadOnlySpan<float> X(byte[] b, int cols) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(b.AsSpan(0, 4 * cols));
        if (r < _rows0)
            _y0[r] = TensorOps.Dot(_w0.Type, _w0.Row(r), X(_x0, _w0.Cols));
        else if (r < _rows01)
            _y1[r - _rows0] = TensorOps.Dot(_w1.Type, _w1.Row(r - _rows0), X(_x1, _w1.Cols));
        else
            _y2[r - _rows01] = TensorOps.Dot(_w2.Type, _w2.Row(r - _rows01), X(_x2, _w2.Cols));
    }
}

/// <summary>Causal multi-head attention with grouped-query sharing, one head per work item; writes the heads' outputs into Xb.</summary>
internal sealed class AttentionJob(ModelConfig c, RunState s, KvCache cache) : IRangeJob
{
    private int _layer, _start, _pos;
    private readonly float _scale = c.AttentionScale > 0 ? c.AttentionScale : 1f / MathF.Sqrt(c.HeadDim);

    public void Set(int layer, int start, int pos) => (_layer, _start, _pos) = (layer, start, pos);

    public void Execute(int startHead, int endHead)
    {
        var group = c.Heads / c.KvHeads;
        var keys = cache.Keys[_layer];
        var values = cache.Values[_layer];
        var length = _pos - _start + 1;
        for (var h = startHead; h < endHead; h++)
        {
            var q = s.Q.AsSpan(h * c.HeadDim, c.HeadDim);
            var kvHead = h / group;
            var scores = s.Scores.AsSpan(h * cache.ContextLength, length);
            for (var t = 0; t < length; t++)
                scores[t] = FloatKernels.DotF32(q, keys.AsSpan((_start + t) * c.KDim + kvHead * c.HeadDim, c.HeadDim)) * _scale;
            if (c.AttentionSoftcap > 0)
                Blocks.Softcap(scores, c.AttentionSoftcap);
            Blocks.Softmax(scores);
            var output = s.Xb.AsSpan(h * c.ValueHeadDim, c.ValueHeadDim);
            output.Clear();
            for (var t = 0; t < length; t++)
                Blocks.AxpY(scores[t], values.AsSpan((_start + t) * c.VDim + kvHead * c.ValueHeadDim, c.ValueHeadDim), output);
        }
    }
}
