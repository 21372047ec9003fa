using Basalt.Engine.Tensors;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Models;

/// <summary>The decoder forward pass shared by every architecture: each architecture file reads its config and binds its tensors,
/// and the optional tensors (biases, QK norms, post norms, fused projections) switch the corresponding steps on.
/// One pass runs a batch of tokens from any sequences over the weights once.</summary>
internal sealed class Transformer
{
    public Transformer(ModelConfig config, ModelWeights weights, WorkerPool? pool = null)
    {
        Config = config;
        Weights = weights;
        Pool = pool ?? new WorkerPool(1);
        InverseFrequencies = Blocks.RopeInverseFrequencies(config, config.RopeBase, weights.RopeFreqFactors);
        LocalInverseFrequencies = config.RopeBaseLocal > 0
            ? Blocks.RopeInverseFrequencies(config, config.RopeBaseLocal, null)
            : InverseFrequencies;
    }

    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    /// <summary>The threads the matrix multiplications and attention are split across.</summary>
    public WorkerPool Pool { get; }
    private float[] InverseFrequencies { get; }
    private float[] LocalInverseFrequencies { get; }

    /// <summary>Runs every token of <paramref name="batch"/> through the model, appending each one's keys and values to its own cache at its
    /// position, and fills the logits row of each token that asks for one. Tokens may come from different sequences; within one sequence
    /// positions must be consecutive and continue what its cache holds. A token at position p attends to its cache's positions [0, p]
    /// (the window, on sliding-window layers), including those written by earlier tokens of this batch.</summary>
    public void Forward(BatchState s, ReadOnlySpan<BatchToken> batch)
    {
        var c = Config;
        var w = Weights;
        var t = batch.Length;
        if (t < 1 || t > s.MaxTokens)
            throw new ArgumentOutOfRangeException(nameof(batch), $"A batch holds 1 to {s.MaxTokens} tokens; got {t}.");
        var logits = 0;
        for (var j = 0; j < t; j++)
        {
            var b = batch[j];
            ArgumentNullException.ThrowIfNull(b.Cache, nameof(batch));
            if ((uint)b.Token >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(batch), $"Token id {b.Token} is outside the vocabulary (0..{c.VocabSize - 1}).");
            if ((uint)b.Position >= (uint)b.Cache.ContextLength)
                throw new ArgumentOutOfRangeException(nameof(batch), $"Position {b.Position} is outside the cache's {b.Cache.ContextLength} positions.");
            if (b.LogitsRow >= s.LogitsRows)
                throw new ArgumentOutOfRangeException(nameof(batch), $"Logits row {b.LogitsRow} is outside the batch state's {s.LogitsRows} rows.");
            s.Caches[j] = b.Cache;
            s.Positions[j] = b.Position;
            if (b.LogitsRow >= 0)
                s.LogitsTokens[logits++] = j;
        }

        var dim = c.Dim;
        var pairs = c.RopeDim / 2;
        var separateLocal = !ReferenceEquals(LocalInverseFrequencies, InverseFrequencies);
        for (var j = 0; j < t; j++)
        {
            var x = s.X.AsSpan(j * dim, dim);
            w.TokenEmbedding.DequantizeRow(batch[j].Token, x);
            if (c.EmbeddingScale != 1f)
                for (var i = 0; i < x.Length; i++)
                    x[i] *= c.EmbeddingScale;
            var pos = batch[j].Position;
            Blocks.RopeTable(InverseFrequencies, pos / c.RopeLinearFactor, s.RopeCos.AsSpan(j * pairs, pairs), s.RopeSin.AsSpan(j * pairs, pairs));
            if (separateLocal)
                Blocks.RopeTable(LocalInverseFrequencies, pos, s.RopeCosLocal.AsSpan(j * pairs, pairs), s.RopeSinLocal.AsSpan(j * pairs, pairs));
        }

        var mm = s.MatMul;
        int qd = c.QDim, kd = c.KDim, vd = c.VDim, ffn = c.FfnDim, qkvWidth = qd + kd + vd;
        for (var l = 0; l < c.Layers; l++)
        {
            var layer = w.Layers[l];
            var local = c.SlidingLayers is { } sl && sl[l];
            for (var j = 0; j < t; j++)
                Blocks.RmsNorm(s.X.AsSpan(j * dim, dim), layer.AttnNorm, s.Xn.AsSpan(j * dim, dim), c.NormEpsilon);

            if (layer.Qkv is { } qkv)
            {
                mm.Set(t, s.Xn, dim, qkv, s.Qkv, qkvWidth);
                Run(mm);
                for (var j = 0; j < t; j++)
                {
                    s.Qkv.AsSpan(j * qkvWidth, qd).CopyTo(s.Q.AsSpan(j * qd));
                    s.Qkv.AsSpan(j * qkvWidth + qd, kd).CopyTo(s.K.AsSpan(j * kd));
                    s.Qkv.AsSpan(j * qkvWidth + qd + kd, vd).CopyTo(s.V.AsSpan(j * vd));
                }
            }
            else
            {
                mm.Set(t, s.Xn, dim, layer.Q, s.Q, qd, layer.K, s.K, kd, layer.V, s.V, vd);
                Run(mm);
            }

            var useLocal = local && separateLocal;
            for (var j = 0; j < t; j++)
            {
                var q = s.Q.AsSpan(j * qd, qd);
                var k = s.K.AsSpan(j * kd, kd);
                var v = s.V.AsSpan(j * vd, vd);
                if (layer.QBias is { } qb) Blocks.Add(q, qb);
                if (layer.KBias is { } kb) Blocks.Add(k, kb);
                if (layer.VBias is { } vb) Blocks.Add(v, vb);
                if (layer.QNorm is { } qn)
                    for (var h = 0; h < c.Heads; h++)
                        Blocks.RmsNorm(q.Slice(h * c.HeadDim, c.HeadDim), qn, q.Slice(h * c.HeadDim, c.HeadDim), c.NormEpsilon);
                if (layer.KNorm is { } kn)
                    for (var h = 0; h < c.KvHeads; h++)
                        Blocks.RmsNorm(k.Slice(h * c.HeadDim, c.HeadDim), kn, k.Slice(h * c.HeadDim, c.HeadDim), c.NormEpsilon);
                var cos = (useLocal ? s.RopeCosLocal : s.RopeCos).AsSpan(j * pairs, pairs);
                var sin = (useLocal ? s.RopeSinLocal : s.RopeSin).AsSpan(j * pairs, pairs);
                Blocks.Rope(q, c.Heads, c.HeadDim, c.RopeStyle, cos, sin);
                Blocks.Rope(k, c.KvHeads, c.HeadDim, c.RopeStyle, cos, sin);
                batch[j].Cache.Write(l, batch[j].Position, k, v);
            }

            s.Attention.Set(l, t, local && c.SlidingWindow > 0 ? c.SlidingWindow : 0);
            Pool.Run(s.Attention, t * c.Heads);

            mm.Set(t, s.Att, s.AttnWidth, layer.Output, s.Proj, dim);
            Run(mm);
            for (var j = 0; j < t; j++)
            {
                var proj = s.Proj.AsSpan(j * dim, dim);
                if (layer.PostAttnNorm is { } pan)
                    Blocks.RmsNorm(proj, pan, proj, c.NormEpsilon);
                var x = s.X.AsSpan(j * dim, dim);
                Blocks.Add(x, proj);
                Blocks.RmsNorm(x, layer.FfnNorm, s.Xn.AsSpan(j * dim, dim), c.NormEpsilon);
            }

            int downLd;
            if (layer.FusedGateUp)
            {
                mm.Set(t, s.Xn, dim, layer.Up, s.Hb, 2 * ffn);
                Run(mm);
                for (var j = 0; j < t; j++)
                    Blocks.GatedActivation(s.Hb.AsSpan(j * 2 * ffn, ffn), s.Hb.AsSpan(j * 2 * ffn + ffn, ffn), c.Activation);
                downLd = 2 * ffn;
            }
            else
            {
                mm.Set(t, s.Xn, dim, layer.Gate, s.Hb, ffn, layer.Up, s.Hb2, ffn);
                Run(mm);
                for (var j = 0; j < t; j++)
                    Blocks.GatedActivation(s.Hb.AsSpan(j * ffn, ffn), s.Hb2.AsSpan(j * ffn, ffn), c.Activation);
                downLd = ffn;
            }
            mm.Set(t, s.Hb, downLd, layer.Down, s.Proj, dim);
            Run(mm);
            for (var j = 0; j < t; j++)
            {
                var proj = s.Proj.AsSpan(j * dim, dim);
                if (layer.PostFfnNorm is { } pfn)
                    Blocks.RmsNorm(proj, pfn, proj, c.NormEpsilon);
                Blocks.Add(s.X.AsSpan(j * dim, dim), proj);
            }
        }

        if (logits == 0)
            return;
        // Only the tokens that want logits go through the output projection, packed into the first rows of Xn.
        for (var k = 0; k < logits; k++)
        {
            var j = s.LogitsTokens[k];
            Blocks.RmsNorm(s.X.AsSpan(j * dim, dim), w.OutputNorm, s.Xn.AsSpan(k * dim, dim), c.NormEpsilon);
            s.LogitsTokens[k] = batch[j].LogitsRow;
        }
        mm.Set(logits, s.Xn, dim, w.Output, s.LogitsBuffer, c.VocabSize, s.LogitsTokens);
        Run(mm);
        if (c.FinalLogitSoftcap > 0)
            for (var k = 0; k < logits; k++)
                Blocks.Softcap(s.Logits(s.LogitsTokens[k]), c.FinalLogitSoftcap);
    }

    private void Run(MatMulJob job)
    {
        // A few decode tokens quantize in microseconds on this thread: a dispatch (and waiting for the other threads to take part)
        // would cost more than the work, once per matrix set and layer.
        if (job.Quantizer.Items is > 0 and <= SmallBatchKernels.MaxTokens)
            job.Quantizer.Execute(0, job.Quantizer.Items);
        else if (job.Quantizer.Items > 0)
            Pool.Run(job.Quantizer, job.Quantizer.Items, QuantizeRowsPerChunk);
        Pool.Run(job, job.TotalRows, MatMulJob.TileRows);
    }

    // Activation rows per chunk when quantizing a batch: each row is a few microseconds of work.
    private const int QuantizeRowsPerChunk = 4;
}

/// <summary>Y = X W^T for up to three weight matrices sharing one input X of T rows, split by weight rows across the pool.
/// Each input row is quantized once per matrix type (8-bit activations for quantized weights, as llama.cpp does) before the dispatch;
/// each chunk then dots tiles of <see cref="TileRows"/> weight rows with every input row, so the weights are read once per batch.</summary>
internal sealed class MatMulJob : IRangeJob
{
    /// <summary>Weight rows per tile: 16 rows of the widest matrices used here stay well inside L1/L2 while the batch passes over them.</summary>
    public const int TileRows = 16;
    // Input rows per kernel call: bounds the stack tile of results (TileRows x TokenGroup floats).
    private const int TokenGroup = 64;

    private readonly WeightMatrix[] _w = new WeightMatrix[3];
    private readonly float[][] _y = new float[3][];
    private readonly int[] _ld = new int[3];
    private readonly int[] _xBytes = new int[3];
    private readonly int[] _xBuffer = new int[3];
    private readonly int[] _start = new int[4];
    private readonly byte[][] _xq;
    private int _count, _tokens;
    private int[]? _rowMap;

    /// <param name="maxTokens">Most input rows.</param>
    /// <param name="maxCols">Widest input row.</param>
    public MatMulJob(int maxTokens, int maxCols)
    {
        // One activation buffer per matrix; each is sized for the widest encoding (F32) of the widest input.
        _xq = [new byte[4L * maxTokens * maxCols], new byte[4L * maxTokens * maxCols], new byte[4L * maxTokens * maxCols]];
        for (var k = 0; k < 3; k++)
            _y[k] = [];
        Quantizer = new QuantizeJob(this);
    }

    /// <summary>Float activations against decoded weights: slower, exact up to float rounding; tests use it to check the forward
    /// logic apart from the activation rounding of the fast path.</summary>
    public bool ExactActivations { get; set; }

    public int TotalRows => _start[_count];

    /// <summary>Y[rowMap[j] or j][i] (row stride <paramref name="ld"/>) = W_i · X[j] for j &lt; tokens.</summary>
    public void Set(int tokens, float[] x, int ldx, WeightMatrix w, float[] y, int ld, int[]? rowMap = null)
    {
        Begin(tokens, rowMap);
        Add(x, ldx, w, y, ld);
    }

    public void Set(int tokens, float[] x, int ldx, WeightMatrix w0, float[] y0, int ld0, WeightMatrix w1, float[] y1, int ld1)
    {
        Begin(tokens, null);
        Add(x, ldx, w0, y0, ld0);
        Add(x, ldx, w1, y1, ld1);
    }

    public void Set(int tokens, float[] x, int ldx, WeightMatrix w0, float[] y0, int ld0, WeightMatrix w1, float[] y1, int ld1, WeightMatrix w2, float[] y2, int ld2)
    {
        Begin(tokens, null);
        Add(x, ldx, w0, y0, ld0);
        Add(x, ldx, w1, y1, ld1);
        Add(x, ldx, w2, y2, ld2);
    }

    private void Begin(int tokens, int[]? rowMap)
    {
        Quantizer.Reset();
        _tokens = tokens;
        _rowMap = rowMap;
        _count = 0;
        _start[0] = 0;
    }

    private void Add(float[] x, int ldx, WeightMatrix w, float[] y, int ld)
    {
        var k = _count;
        _w[k] = w;
        _y[k] = y;
        _ld[k] = ld;
        _start[k + 1] = _start[k] + w.Rows;
        _count++;
        var cols = w.Cols;
        if (ExactActivations)
        {
            _xBytes[k] = 4 * cols;
            _xBuffer[k] = k;
            for (var j = 0; j < _tokens; j++)
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan(j * ldx, cols)).CopyTo(_xq[k].AsSpan(j * 4 * cols));
            return;
        }
        var bytes = TensorOps.ActivationSize(w.Type, cols);
        _xBytes[k] = bytes;
        // Matrices sharing the input and the activation encoding share one quantized copy.
        for (var p = 0; p < k; p++)
            if (_w[p].Cols == cols && TensorOps.ActivationType(_w[p].Type) == TensorOps.ActivationType(w.Type))
            {
                _xBuffer[k] = _xBuffer[p];
                return;
            }
        _xBuffer[k] = k;
        // Quantized by Quantizer across the pool before the multiplication (a batch has tens of rows to quantize).
        _quantizeX[k] = x;
        _quantizeLd[k] = ldx;
        Quantizer.Add(k);
    }

    /// <summary>The activation rows still to quantize for the multiplication just set: run it across the pool before this job.</summary>
    public QuantizeJob Quantizer { get; }

    private readonly float[][] _quantizeX = new float[3][];
    private readonly int[] _quantizeLd = new int[3];

    /// <summary>Quantizes the input rows of each matrix that needs its own copy, one (matrix, token) pair per item.</summary>
    internal sealed class QuantizeJob(MatMulJob owner) : IRangeJob
    {
        private readonly int[] _matrices = new int[3];
        private int _count;

        public int Items => _count * owner._tokens;

        public void Reset() => _count = 0;

        public void Add(int matrix) => _matrices[_count++] = matrix;

        public void Execute(int start, int end)
        {
            var tokens = owner._tokens;
            for (var item = start; item < end; item++)
            {
                int k = _matrices[item / tokens], j = item % tokens;
                var w = owner._w[k];
                var bytes = owner._xBytes[k];
                TensorOps.QuantizeActivations(w.Type, owner._quantizeX[k].AsSpan(j * owner._quantizeLd[k], w.Cols), owner._xq[k].AsSpan(j * bytes, bytes));
            }
        }
    }

    public void Execute(int start, int end)
    {
        Span<float> tile = stackalloc float[TileRows * TokenGroup];
        for (var k = 0; k < _count; k++)
        {
            var a = Math.Max(start, _start[k]) - _start[k];
            var b = Math.Min(end, _start[k + 1]) - _start[k];
            if (a < b)
                Compute(k, a, b, tile);
        }
    }

    private void Compute(int k, int rowStart, int rowEnd, Span<float> tile)
    {
        var w = _w[k];
        var y = _y[k];
        var ld = _ld[k];
        var xBytes = _xBytes[k];
        var xq = _xq[_xBuffer[k]].AsSpan(0, _tokens * xBytes);
        if (ExactActivations)
        {
            for (var r = rowStart; r < rowEnd; r++)
                for (var j = 0; j < _tokens; j++)
                    y[Row(j) * ld + r] = TensorOps.Dot(w.Type, w.Row(r), System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(xq.Slice(j * xBytes, xBytes)));
            return;
        }
        if (_tokens == 1)
        {
            // Decoding: one input row, so no tile to keep; the row-range kernels are the fastest path.
            RowKernels.DotQ8(w.Type, w.RowRange(rowStart, rowEnd - rowStart), rowEnd - rowStart, xq, w.Cols, y.AsSpan(Row(0) * ld + rowStart, rowEnd - rowStart));
            return;
        }
        if (_tokens <= SmallBatchKernels.MaxTokens && SmallBatchKernels.Supports(w.Type, w.Cols))
        {
            // A few sequences decoding together: each weight row is unpacked once and dotted with every token while it is in L1.
            Span<int> outputs = stackalloc int[SmallBatchKernels.MaxTokens];
            for (var j = 0; j < _tokens; j++)
                outputs[j] = Row(j) * ld + rowStart;
            SmallBatchKernels.DotRows(w.Type, w.RowRange(rowStart, rowEnd - rowStart), rowEnd - rowStart, xq, xBytes, _tokens, w.Cols, y, outputs[.._tokens]);
            return;
        }
        for (var r0 = rowStart; r0 < rowEnd; r0 += TileRows)
        {
            var rows = Math.Min(TileRows, rowEnd - r0);
            var weights = w.RowRange(r0, rows);
            for (var j0 = 0; j0 < _tokens; j0 += TokenGroup)
            {
                var tokens = Math.Min(TokenGroup, _tokens - j0);
                TensorOps.DotQ8Rows(w.Type, weights, rows, xq.Slice(j0 * xBytes, tokens * xBytes), tokens, w.Cols, tile);
                for (var j = 0; j < tokens; j++)
                    tile.Slice(j * rows, rows).CopyTo(y.AsSpan(Row(j0 + j) * ld + r0, rows));
            }
        }
    }

    private int Row(int j) => _rowMap is null ? j : _rowMap[j];
}

/// <summary>Causal attention with grouped-query sharing for a batch, one (token, head) pair per work item; each token reads its own cache.
/// Softmax runs online over chunks of positions (running max and sum), so no score buffer grows with the context.</summary>
internal sealed class BatchAttentionJob(ModelConfig c, BatchState s) : IRangeJob
{
    // Positions scored per chunk of the online softmax: a stack buffer, long enough that rescaling the output is rare.
    private const int ScoreChunk = 128;
    private readonly float _scale = c.AttentionScale > 0 ? c.AttentionScale : 1f / MathF.Sqrt(c.HeadDim);
    private int _layer, _tokens, _window;

    /// <summary>Attention of layer <paramref name="layer"/> for the first <paramref name="tokens"/> batch tokens; <paramref name="window"/> 0 = whole context.</summary>
    public void Set(int layer, int tokens, int window) => (_layer, _tokens, _window) = (layer, tokens, window);

    public void Execute(int startItem, int endItem)
    {
        Span<float> scores = stackalloc float[ScoreChunk];
        var group = c.Heads / c.KvHeads;
        for (var item = startItem; item < endItem; item++)
        {
            int j = item / c.Heads, h = item % c.Heads;
            var cache = s.Caches[j];
            var pos = s.Positions[j];
            var start = _window > 0 ? Math.Max(0, pos - _window + 1) : 0;
            var kvHead = h / group;
            var q = s.Q.AsSpan(j * c.QDim + h * c.HeadDim, c.HeadDim);
            var output = s.Att.AsSpan(j * s.AttnWidth + h * c.ValueHeadDim, c.ValueHeadDim);
            output.Clear();
            var type = cache.Type;
            var keys = cache.Keys[_layer];
            var values = cache.Values[_layer];
            int kOff = KvCache.RowBytes(type, kvHead * c.HeadDim), kLen = KvCache.RowBytes(type, c.HeadDim);
            int vOff = KvCache.RowBytes(type, kvHead * c.ValueHeadDim), vLen = KvCache.RowBytes(type, c.ValueHeadDim);
            var max = float.NegativeInfinity;
            var sum = 0f;
            for (var p0 = start; p0 <= pos; p0 += ScoreChunk)
            {
                var n = Math.Min(ScoreChunk, pos - p0 + 1);
                var chunk = scores[..n];
                var chunkMax = float.NegativeInfinity;
                for (var i = 0; i < n; i++)
                {
                    var key = keys.AsSpan((p0 + i) * cache.KeyRowBytes + kOff, kLen);
                    var score = KeyDot(type, key, q) * _scale;
                    if (c.AttentionSoftcap > 0)
                        score = c.AttentionSoftcap * MathF.Tanh(score / c.AttentionSoftcap);
                    chunk[i] = score;
                    chunkMax = MathF.Max(chunkMax, score);
                }
                if (chunkMax > max)
                {
                    if (sum > 0)
                    {
                        var rescale = MathF.Exp(max - chunkMax);
                        sum *= rescale;
                        for (var i = 0; i < output.Length; i++)
                            output[i] *= rescale;
                    }
                    max = chunkMax;
                }
                for (var i = 0; i < n; i++)
                {
                    var p = MathF.Exp(chunk[i] - max);
                    sum += p;
                    var value = values.AsSpan((p0 + i) * cache.ValueRowBytes + vOff, vLen);
                    AddValue(type, p, value, output);
                }
            }
            var inv = 1f / sum;
            for (var i = 0; i < output.Length; i++)
                output[i] *= inv;
        }
    }

    private static float KeyDot(KvCacheType type, ReadOnlySpan<byte> key, ReadOnlySpan<float> q) => type switch
    {
        KvCacheType.F16 => FloatKernels.DotF16(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(key), q),
        KvCacheType.F32 => FloatKernels.DotF32(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(key), q),
        _ => DecodeDotKernels.Dot(Gguf.GgmlType.Q8_0, key, q),
    };

    private static void AddValue(KvCacheType type, float a, ReadOnlySpan<byte> value, Span<float> output)
    {
        switch (type)
        {
            case KvCacheType.F16: AttentionKernels.AxpYF16(a, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(value), output); break;
            case KvCacheType.F32: Blocks.AxpY(a, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(value), output); break;
            default: AttentionKernels.AxpYQ8_0(a, value, output); break;
        }
    }
}
