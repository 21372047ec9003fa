using Basalt.Engine.Gguf;
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
        _separateLocal = !ReferenceEquals(LocalInverseFrequencies, InverseFrequencies);
        // A fused gate/up matrix as its two halves, sliced once here (a slice is an object: none is made per step).
        _tokenSteps = new TokenSteps(this);
        _gates = new WeightMatrix[config.Layers];
        _ups = new WeightMatrix[config.Layers];
        for (var l = 0; l < config.Layers; l++)
        {
            var layer = weights.Layers[l];
            _gates[l] = layer.FusedGateUp ? layer.Up.Slice(0, config.FfnDim) : layer.Gate;
            _ups[l] = layer.FusedGateUp ? layer.Up.Slice(config.FfnDim, config.FfnDim) : layer.Up;
        }
    }

    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    /// <summary>The threads the matrix multiplications and attention are split across.</summary>
    public WorkerPool Pool { get; }
    private float[] InverseFrequencies { get; }
    private float[] LocalInverseFrequencies { get; }
    private readonly WeightMatrix[] _gates, _ups;
    private readonly TokenSteps _tokenSteps;
    // Sliding-window layers rotate with their own RoPE base.
    private readonly bool _separateLocal;

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
        for (var j = 0; j < t; j++)
        {
            var x = s.X.AsSpan(j * dim, dim);
            w.TokenEmbedding.DequantizeRow(batch[j].Token, x);
            if (c.EmbeddingScale != 1f)
                for (var i = 0; i < x.Length; i++)
                    x[i] *= c.EmbeddingScale;
            var pos = batch[j].Position;
            Blocks.RopeTable(InverseFrequencies, pos / c.RopeLinearFactor, s.RopeCos.AsSpan(j * pairs, pairs), s.RopeSin.AsSpan(j * pairs, pairs));
            if (_separateLocal)
                Blocks.RopeTable(LocalInverseFrequencies, pos, s.RopeCosLocal.AsSpan(j * pairs, pairs), s.RopeSinLocal.AsSpan(j * pairs, pairs));
        }

        var mm = s.MatMul;
        int qd = c.QDim, kd = c.KDim, vd = c.VDim, ffn = c.FfnDim, qkvWidth = qd + kd + vd;
        var steps = _tokenSteps;
        steps.Begin(s, t);
        for (var l = 0; l < c.Layers; l++)
        {
            var layer = w.Layers[l];
            var local = c.SlidingLayers is { } sl && sl[l];
            // The previous layer's FFN residual and this layer's attention norm.
            steps.Run(TokenStep.LayerInput, l);

            if (layer.Qkv is { } qkv)
                mm.Set(t, s.Xn, dim, qkv, s.Qkv, qkvWidth);
            else
                mm.Set(t, s.Xn, dim, layer.Q, s.Q, qd, layer.K, s.K, kd, layer.V, s.V, vd);
            Run(mm);

            steps.Run(TokenStep.Rotate, l);
            s.Attention.Run(Pool, l, t, local && c.SlidingWindow > 0 ? c.SlidingWindow : 0);

            mm.Set(t, s.Att, s.AttnWidth, layer.Output, s.Proj, dim);
            Run(mm);
            steps.Run(TokenStep.AttentionResidual, l);

            // Each chunk of the gate/up dispatch applies the activation to its rows of every token, so the hidden vectors never pass
            // through the calling thread alone; decoding, the chunks also quantize them for the down projection.
            var quantizeNext = t == 1 && !mm.ExactActivations;
            mm.SetGated(t, s.Xn, dim, _gates[l], s.Hb, _ups[l], s.Hb2, ffn, c.Activation, quantizeNext ? layer.Down.Type : null);
            Run(mm);
            if (quantizeNext)
                mm.SetQuantizedInput(layer.Down, s.Proj, dim);
            else
                mm.Set(t, s.Hb, ffn, layer.Down, s.Proj, dim);
            Run(mm);
        }
        steps.Run(TokenStep.LayerInput, c.Layers);
        steps.End();

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

    /// <summary>Token j of layer l after the Q/K/V projection: Q/K/V out of a fused projection, biases, QK norms, RoPE, and its keys and
    /// values written to its cache.</summary>
    internal void Rotate(BatchState s, int j, int l)
    {
        var c = Config;
        var layer = Weights.Layers[l];
        int qd = c.QDim, kd = c.KDim, vd = c.VDim, pairs = c.RopeDim / 2;
        var q = s.Q.AsSpan(j * qd, qd);
        var k = s.K.AsSpan(j * kd, kd);
        var v = s.V.AsSpan(j * vd, vd);
        if (layer.Qkv is not null)
        {
            var width = qd + kd + vd;
            s.Qkv.AsSpan(j * width, qd).CopyTo(q);
            s.Qkv.AsSpan(j * width + qd, kd).CopyTo(k);
            s.Qkv.AsSpan(j * width + qd + kd, vd).CopyTo(v);
        }
        if (layer.QBias is { } qb) Blocks.Add(q, qb);
        if (layer.KBias is { } kb) Blocks.Add(k, kb);
        if (layer.VBias is { } vb) Blocks.Add(v, vb);
        if (layer.QNorm is { } qn)
            for (var h = 0; h < c.Heads; h++)
                Blocks.RmsNorm(q.Slice(h * c.HeadDim, c.HeadDim), qn, q.Slice(h * c.HeadDim, c.HeadDim), c.NormEpsilon);
        if (layer.KNorm is { } kn)
            for (var h = 0; h < c.KvHeads; h++)
                Blocks.RmsNorm(k.Slice(h * c.HeadDim, c.HeadDim), kn, k.Slice(h * c.HeadDim, c.HeadDim), c.NormEpsilon);
        var useLocal = c.SlidingLayers is { } sl && sl[l] && _separateLocal;
        var cos = (useLocal ? s.RopeCosLocal : s.RopeCos).AsSpan(j * pairs, pairs);
        var sin = (useLocal ? s.RopeSinLocal : s.RopeSin).AsSpan(j * pairs, pairs);
        Blocks.Rope(q, c.Heads, c.HeadDim, c.RopeStyle, cos, sin);
        Blocks.Rope(k, c.KvHeads, c.HeadDim, c.RopeStyle, cos, sin);
        s.Caches[j].Write(l, s.Positions[j], k, v);
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

/// <summary>The per-token steps of a forward pass between its matrix products.</summary>
internal enum TokenStep
{
    /// <summary>The previous layer's FFN output (post norm) added to the residual, then this layer's attention norm (layer = Layers: only the residual).</summary>
    LayerInput,
    /// <summary>Q/K/V out of a fused projection, biases, QK norms, RoPE, and the keys and values written to each token's cache.</summary>
    Rotate,
    /// <summary>The attention output (post norm) added to the residual, then the FFN norm.</summary>
    AttentionResidual,
}

/// <summary>Runs one <see cref="TokenStep"/> for every token of a batch, split by token across the pool for a prompt chunk (on the calling
/// thread alone these were ~4% of a 135M prompt pass: RoPE and the cache write 2.6%, the norms 1%), inline for a few tokens.</summary>
internal sealed class TokenSteps(Transformer owner) : IRangeJob
{
    // Fewer tokens than this run on the calling thread: one token's steps take 1-3 us, about what a dispatch costs.
    private const int MinPooledTokens = 4;

    private BatchState? _s;
    private int _tokens, _layer;
    private TokenStep _step;

    public void Begin(BatchState s, int tokens)
    {
        _s = s;
        _tokens = tokens;
    }

    /// <summary>Lets go of the batch: the job outlives the pass and must not keep its buffers alive.</summary>
    public void End() => _s = null;

    public void Run(TokenStep step, int layer)
    {
        _step = step;
        _layer = layer;
        if (_tokens < MinPooledTokens)
            Execute(0, _tokens);
        else
            owner.Pool.Run(this, _tokens);
    }

    public void Execute(int start, int end)
    {
        var s = _s!;
        var c = owner.Config;
        var w = owner.Weights;
        int dim = c.Dim, l = _layer;
        for (var j = start; j < end; j++)
        {
            var x = s.X.AsSpan(j * dim, dim);
            switch (_step)
            {
                case TokenStep.LayerInput:
                    if (l > 0)
                    {
                        var proj = s.Proj.AsSpan(j * dim, dim);
                        if (w.Layers[l - 1].PostFfnNorm is { } pfn)
                            Blocks.RmsNorm(proj, pfn, proj, c.NormEpsilon);
                        Blocks.Add(x, proj);
                    }
                    if (l < c.Layers)
                        Blocks.RmsNorm(x, w.Layers[l].AttnNorm, s.Xn.AsSpan(j * dim, dim), c.NormEpsilon);
                    break;
                case TokenStep.Rotate:
                    owner.Rotate(s, j, l);
                    break;
                default:
                {
                    var layer = w.Layers[l];
                    var proj = s.Proj.AsSpan(j * dim, dim);
                    if (layer.PostAttnNorm is { } pan)
                        Blocks.RmsNorm(proj, pan, proj, c.NormEpsilon);
                    Blocks.Add(x, proj);
                    Blocks.RmsNorm(x, layer.FfnNorm, s.Xn.AsSpan(j * dim, dim), c.NormEpsilon);
                    break;
                }
            }
        }
    }
}

/// <summary>Y = X W^T for up to three weight matrices sharing one input X of T rows, split by weight rows across the pool.
/// Each input row is quantized once per matrix type (8-bit activations for quantized weights, as llama.cpp does) before the dispatch;
/// each chunk then dots tiles of <see cref="TileRows"/> weight rows with every input row, so the weights are read once per batch.</summary>
internal sealed class MatMulJob : IRangeJob
{
    /// <summary>Weight rows per tile: 16 rows of the widest matrices used here stay well inside L1/L2 while the batch passes over them.</summary>
    public const int TileRows = 16;
    // Input rows per kernel call: bounds the stack tile of results (TileRows x TokenGroup floats).
    private const int TokenGroup = 128;

    private readonly WeightMatrix[] _w = new WeightMatrix[3];
    private readonly float[][] _y = new float[3][];
    private readonly int[] _ld = new int[3];
    private readonly int[] _xBytes = new int[3];
    private readonly int[] _xBuffer = new int[3];
    private readonly int[] _start = new int[4];
    // Activation buffers: one per matrix, and one that a gated job fills for the next multiplication (SetGated, SetQuantizedInput).
    private const int NextInput = 3;
    private readonly byte[][] _xq;
    // Per activation buffer: the tiles' side information of the quantized rows (block scales and sums), when the weights take it.
    private readonly float[][] _xInfo;
    private readonly bool[] _hasInfo = new bool[3];
    private int _count, _tokens;
    private int[]? _rowMap;
    // Set by SetGated: rows [0, ffn) of matrices 0 (gate) and 1 (up) are paired, and each chunk activates its rows; the chunk that
    // completes a block of the next multiplication's activations quantizes it (_blockRows counts the rows done per block).
    private FfnActivation? _gatedActivation;
    private bool _quantizeNext;
    private GgmlType _nextType;
    private int _nextBlock;
    private readonly int[] _blockRows;

    /// <param name="maxTokens">Most input rows.</param>
    /// <param name="maxCols">Widest input row.</param>
    public MatMulJob(int maxTokens, int maxCols)
    {
        // One activation buffer per matrix; each is sized for the widest encoding (F32) of the widest input.
        _xq = [new byte[4L * maxTokens * maxCols], new byte[4L * maxTokens * maxCols], new byte[4L * maxTokens * maxCols], new byte[4L * maxCols]];
        _blockRows = new int[maxCols];
        var info = PanelKernels.InfoLength(maxTokens, maxCols);
        _xInfo = [new float[info], new float[info], new float[info]];
        for (var k = 0; k < 3; k++)
            _y[k] = [];
        Quantizer = new QuantizeJob(this);
    }

    /// <summary>Float activations against decoded weights: slower, exact up to float rounding; tests use it to check the forward
    /// logic apart from the activation rounding of the fast path.</summary>
    public bool ExactActivations { get; set; }

    /// <summary>Items of the dispatch: weight rows, or rows of each matrix when gated (a gate row and its up row are one item).</summary>
    public int TotalRows => _gatedActivation is null ? _start[_count] : _start[1];

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

    /// <summary>For each input row j: hGate[j] = act(W_gate · x[j]) * (W_up · x[j]) and hUp[j] = W_up · x[j] (row stride
    /// <paramref name="ld"/>), a gate row and its up row being one item. With <paramref name="nextType"/> (one input row, not with
    /// <see cref="ExactActivations"/>) hGate is also quantized as the input of a matrix of that type for <see cref="SetQuantizedInput"/>.</summary>
    public void SetGated(int tokens, float[] x, int ldx, WeightMatrix gate, float[] hGate, WeightMatrix up, float[] hUp, int ld,
        FfnActivation activation, GgmlType? nextType)
    {
        if (gate.Rows != up.Rows || gate.Cols != up.Cols)
            throw new ArgumentException($"Gate ({gate.Rows} x {gate.Cols}) and up ({up.Rows} x {up.Cols}) must have one shape.", nameof(up));
        if (nextType is not null && (ExactActivations || tokens != 1))
            throw new InvalidOperationException("Only a one-row gated multiplication with quantized activations quantizes its output.");
        Begin(tokens, null);
        Add(x, ldx, gate, hGate, ld);
        Add(x, ldx, up, hUp, ld);
        _gatedActivation = activation;
        _quantizeNext = nextType is not null;
        if (nextType is not { } next)
            return;
        _nextType = next;
        _nextBlock = TensorOps.BlockSize(TensorOps.ActivationType(next));
        if (gate.Rows % _nextBlock != 0)
            throw new ArgumentException($"{gate.Rows} rows do not split into {TensorOps.ActivationType(next)} blocks of {_nextBlock}.", nameof(gate));
        _blockRows.AsSpan(0, gate.Rows / _nextBlock).Clear();
    }

    /// <summary>One input row (decoding): Y = W · h, where h was activated and quantized by the gated multiplication just run.</summary>
    public void SetQuantizedInput(WeightMatrix w, float[] y, int ld)
    {
        if (_gatedActivation is null || !_quantizeNext || _nextType != w.Type || _start[1] != w.Cols)
            throw new InvalidOperationException($"'{w.Name}' needs the input a gated multiplication of {w.Cols} rows quantized for {w.Type} weights.");
        Begin(1, null);
        _w[0] = w;
        _y[0] = y;
        _ld[0] = ld;
        _start[1] = w.Rows;
        _count = 1;
        _xBytes[0] = TensorOps.ActivationSize(w.Type, w.Cols);
        _xBuffer[0] = NextInput;
    }

    private void Begin(int tokens, int[]? rowMap)
    {
        Quantizer.Reset();
        _tokens = tokens;
        _rowMap = rowMap;
        _count = 0;
        _start[0] = 0;
        _gatedActivation = null;
        _quantizeNext = false;
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
        // Prompt tiles of the 32-weight block types read the activations' block scales and sums, prepared once with the quantization.
        _hasInfo[k] = _tokens > 1 && PanelKernels.Supports(w.Type) && !UsesSmallBatch(w);
        if (_hasInfo[k])
            PanelKernels.ClearPadding(cols, _tokens, _xInfo[k]);
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
                if (owner._hasInfo[k])
                    PanelKernels.PrepareToken(owner._xq[k].AsSpan(j * bytes, bytes), w.Cols, j, tokens, owner._xInfo[k]);
            }
        }
    }

    public void Execute(int start, int end)
    {
        Span<float> tile = stackalloc float[TileRows * TokenGroup];
        if (_gatedActivation is { } activation)
        {
            Compute(0, start, end, tile);
            Compute(1, start, end, tile);
            for (var j = 0; j < _tokens; j++)
                Blocks.GatedActivation(_y[0].AsSpan(Row(j) * _ld[0] + start, end - start), _y[1].AsSpan(Row(j) * _ld[1] + start, end - start), activation);
            if (!_quantizeNext)
                return;
            // Chunks are tiles, not blocks (a block of 256 rows would leave one thread idle at the end of a small dispatch): whichever
            // chunk brings a block's row count to full quantizes it; the interlocked add orders the other chunk's writes before it.
            var block = _nextBlock;
            if (block == 1)
            {
                QuantizeBlock(start, end - start);
                return;
            }
            for (var b0 = start - start % block; b0 < end; b0 += block)
            {
                var rows = Math.Min(end, b0 + block) - Math.Max(start, b0);
                if (Interlocked.Add(ref _blockRows[b0 / block], rows) == block)
                    QuantizeBlock(b0, block);
            }
            return;
        }
        for (var k = 0; k < _count; k++)
        {
            var a = Math.Max(start, _start[k]) - _start[k];
            var b = Math.Min(end, _start[k + 1]) - _start[k];
            if (a < b)
                Compute(k, a, b, tile);
        }
    }

    private void QuantizeBlock(int start, int count)
    {
        var type = TensorOps.ActivationType(_nextType);
        var offset = TensorOps.RowSize(type, start);
        TensorOps.QuantizeActivations(_nextType, _y[0].AsSpan(start, count), _xq[NextInput].AsSpan(offset, TensorOps.RowSize(type, start + count) - offset));
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
            Span<byte> copy = w.Layout == WeightLayout.Rows ? default : stackalloc byte[(int)w.RowBytes];
            for (var r = rowStart; r < rowEnd; r++)
                for (var j = 0; j < _tokens; j++)
                    y[Row(j) * ld + r] = TensorOps.Dot(w.Type, w.RowBytesOf(r, copy), System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(xq.Slice(j * xBytes, xBytes)));
            return;
        }
        if (w.Layout == WeightLayout.Octets)
        {
            ComputeOctets(k, w, rowStart, rowEnd, xq, xBytes, y, ld, tile);
            return;
        }
        if (_tokens == 1)
        {
            // Decoding: one input row, so no tile to keep; the row-range kernels are the fastest path.
            RowKernels.DotQ8(w.Type, w.RowRange(rowStart, rowEnd - rowStart), rowEnd - rowStart, xq, w.Cols, y.AsSpan(Row(0) * ld + rowStart, rowEnd - rowStart), w.Finite);
            return;
        }
        if (UsesSmallBatch(w))
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
                if (_hasInfo[_xBuffer[k]])
                {
                    var nb = w.Cols / 32;
                    var info = _xInfo[_xBuffer[k]];
                    MatMulKernels.DotRows(w.Type, weights, (int)w.RowBytes, rows, xq.Slice(j0 * xBytes, tokens * xBytes), xBytes, tokens, w.Cols, tile,
                        info.AsSpan(j0 * nb), info.AsSpan((PanelKernels.PaddedTokens(_tokens) + j0) * nb));
                }
                else
                    TensorOps.DotQ8Rows(w.Type, weights, rows, xq.Slice(j0 * xBytes, tokens * xBytes), tokens, w.Cols, tile);
                StoreTile(tile, rows, tokens, j0, r0, y, ld);
            }
        }
    }

    // A tile's results (tokens x rows) into the tokens' output rows at column r0.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void StoreTile(Span<float> tile, int rows, int tokens, int j0, int r0, float[] y, int ld)
    {
        if (rows == TileRows)
            // Full tiles (nearly all): two vector copies per token instead of a Memmove call each (2-3% of a 135M prompt pass).
            for (var j = 0; j < tokens; j++)
            {
                ref var dst = ref y[Row(j0 + j) * ld + r0 + TileRows - 1];
                ref var src = ref tile[j * TileRows];
                ref var first = ref System.Runtime.CompilerServices.Unsafe.Subtract(ref dst, TileRows - 1);
                System.Runtime.Intrinsics.Vector256.StoreUnsafe(System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref src), ref first);
                System.Runtime.Intrinsics.Vector256.StoreUnsafe(System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref src, 8), ref first, 8);
            }
        else
            for (var j = 0; j < tokens; j++)
                tile.Slice(j * rows, rows).CopyTo(y.AsSpan(Row(j0 + j) * ld + r0, rows));
    }

    // Q8_0 repacked into octets: the octet kernels read the weights as they are stored (decode, a few sequences); prompt tiles use the
    // octets as their panel. A range that does not start on an octet (a matrix after one whose rows are not a multiple of 8 in one
    // dispatch) goes through the octet kernels, which take any rows, sixteen tokens at a time.
    private void ComputeOctets(int k, WeightMatrix w, int rowStart, int rowEnd, ReadOnlySpan<byte> xq, int xBytes, float[] y, int ld, Span<float> tile)
    {
        if (_tokens <= Q8Octets.MaxTokens || rowStart % Q8Octets.Rows != 0 || rowEnd % Q8Octets.Rows != 0)
        {
            var all = w.OctetRange(0, w.Rows);
            Span<int> outputs = stackalloc int[Q8Octets.MaxTokens];
            for (var j0 = 0; j0 < _tokens; j0 += Q8Octets.MaxTokens)
            {
                var tokens = Math.Min(Q8Octets.MaxTokens, _tokens - j0);
                for (var j = 0; j < tokens; j++)
                    outputs[j] = Row(j0 + j) * ld + rowStart;
                Q8Octets.DotRows(all, w.Rows, w.Cols, rowStart, rowEnd, xq.Slice(j0 * xBytes, tokens * xBytes), xBytes, tokens, y, outputs[..tokens]);
            }
            return;
        }
        var nb = w.Cols / 32;
        for (var r0 = rowStart; r0 < rowEnd; r0 += TileRows)
        {
            var rows = Math.Min(TileRows, rowEnd - r0);
            var weights = w.OctetRange(r0, rows);
            for (var j0 = 0; j0 < _tokens; j0 += TokenGroup)
            {
                var tokens = Math.Min(TokenGroup, _tokens - j0);
                PanelKernels.DotOctets(weights, rows, xq.Slice(j0 * xBytes, tokens * xBytes), xBytes, tokens, w.Cols, tile,
                    _hasInfo[_xBuffer[k]] ? _xInfo[_xBuffer[k]].AsSpan(j0 * nb) : default);
                StoreTile(tile, rows, tokens, j0, r0, y, ld);
            }
        }
    }

    private int Row(int j) => _rowMap is null ? j : _rowMap[j];

    // A few sequences decoding together (2..16 tokens) go through the small-batch kernels, which read no panel side information.
    private bool UsesSmallBatch(WeightMatrix w) =>
        w.Layout == WeightLayout.Octets ? _tokens <= Q8Octets.MaxTokens : SmallBatchKernels.Prefers(w.Type, w.Cols, _tokens);
}

/// <summary>Causal attention with grouped-query sharing for a batch; each token reads its own cache. A work item is one KV head of a block of
/// up to <see cref="QueryBlockRows"/> query rows: consecutive tokens of one sequence times the query heads of the group, so each cached key
/// and value row is decoded once (into a float panel) for all of them. Per panel of positions the scores are a small matrix product
/// (queries x keys^T), the softmax runs online per query row (running max and sum), and the probabilities times the values are another.
/// When there are too few items to keep the threads busy (decoding), long position ranges are split across items and the partial results
/// (max, sum, unnormalized output) merged afterwards, as flash-decoding does.</summary>
internal sealed class BatchAttentionJob : IRangeJob
{
    // Query rows (tokens x group heads) per item, at most: the queries, their scores over a panel and their outputs stay in L1.
    private const int QueryBlockRows = 64;
    // Tokens per item, at most: a 64-token prompt chunk makes 4 blocks per KV head (48 rows with SmolLM2's groups of 3, 64 with Llama's 4).
    private const int QueryBlockTokens = 16;
    // Floats of one decoded key (or value) panel: 16 KiB, 64 positions of 64. Against 32 positions it measured 5-30% more GFLOP per
    // CPU-second on the prompt chunk and more KV bytes per CPU-second decoding (bench attention, A/B back to back, load ~30).
    private const int PanelFloats = 4096;
    // Fewer items than this leaves a thread idle for a long time: split the position ranges.
    private const int MinItems = 16;
    // Most items a split may make in one dispatch: bounds the partial-result buffers.
    private const int MaxSplitItems = 32;
    // A split shorter than this costs less than the merge it adds.
    private const int MinSplitPositions = 128;

    private readonly ModelConfig _c;
    private readonly BatchState _s;
    private readonly float _scale;
    private readonly int _group, _blockTokens, _maxRows, _panel;
    // Work items: first batch token, tokens, KV head, cached positions [from, to] read, and the partial-result slot (-1: write the output).
    private readonly int[] _first, _tokens, _kvHead, _from, _to, _slot;
    // Blocks of the batch (first token, tokens), and the split items to merge (first item, items).
    private readonly int[] _blockFirst, _blockTokensOf, _mergeItem, _mergeItems;
    // Per slot: maxRows rows of unnormalized output, and each row's running max and sum.
    private readonly float[] _partial, _partialMax, _partialSum;
    private int _items, _merges, _layer, _window;

    public BatchAttentionJob(ModelConfig c, BatchState s)
    {
        _c = c;
        _s = s;
        _scale = c.AttentionScale > 0 ? c.AttentionScale : 1f / MathF.Sqrt(c.HeadDim);
        _group = c.Heads / c.KvHeads;
        _blockTokens = Math.Clamp(QueryBlockRows / _group, 1, QueryBlockTokens);
        _maxRows = _blockTokens * _group;
        // Whole vectors of positions per panel (the softmax steps work 8 at a time), 8 to 64.
        _panel = Math.Clamp(PanelFloats / Math.Max(c.HeadDim, c.ValueHeadDim) & ~7, 8, 64);
        var items = Math.Max(s.MaxTokens * c.KvHeads, MaxSplitItems);
        _first = new int[items];
        _tokens = new int[items];
        _kvHead = new int[items];
        _from = new int[items];
        _to = new int[items];
        _slot = new int[items];
        _blockFirst = new int[s.MaxTokens];
        _blockTokensOf = new int[s.MaxTokens];
        _mergeItem = new int[MaxSplitItems];
        _mergeItems = new int[MaxSplitItems];
        _partial = new float[MaxSplitItems * _maxRows * c.ValueHeadDim];
        _partialMax = new float[MaxSplitItems * _maxRows];
        _partialSum = new float[MaxSplitItems * _maxRows];
    }

    /// <summary>Attention of layer <paramref name="layer"/> for the first <paramref name="tokens"/> batch tokens across <paramref name="pool"/>,
    /// into the batch state's attention output; <paramref name="window"/> 0 = whole context.</summary>
    public void Run(WorkerPool pool, int layer, int tokens, int window)
    {
        _layer = layer;
        _window = window;
        _items = 0;
        _merges = 0;
        // Blocks: runs of consecutive batch tokens of one cache at consecutive positions.
        var blocks = 0;
        for (var j = 0; j < tokens;)
        {
            var e = j + 1;
            while (e < tokens && e - j < _blockTokens && ReferenceEquals(_s.Caches[e], _s.Caches[j]) && _s.Positions[e] == _s.Positions[e - 1] + 1)
                e++;
            _blockFirst[blocks] = j;
            _blockTokensOf[blocks++] = e - j;
            j = e;
        }
        var baseItems = blocks * _c.KvHeads;
        var slots = 0;
        // Last blocks first: they see the most positions, so the short items come last and even out the threads' finish.
        for (var b = blocks - 1; b >= 0; b--)
        {
            int first = _blockFirst[b], n = _blockTokensOf[b];
            var pFirst = _s.Positions[first];
            var from = window > 0 ? Math.Max(0, pFirst - window + 1) : 0;
            var to = pFirst + n - 1;
            var splits = baseItems < MinItems ? Math.Clamp(Math.Min(MaxSplitItems / baseItems, (to - from + 1) / MinSplitPositions), 1, MaxSplitItems) : 1;
            // Whole panels per split.
            var length = ((to - from + 1 + splits - 1) / splits + _panel - 1) / _panel * _panel;
            for (var h = 0; h < _c.KvHeads; h++)
            {
                if (splits == 1)
                {
                    Add(first, n, h, from, to, -1);
                    continue;
                }
                var firstSplit = _items;
                for (var a = from; a <= to; a += length)
                    Add(first, n, h, a, Math.Min(to, a + length - 1), slots++);
                _mergeItem[_merges] = firstSplit;
                _mergeItems[_merges++] = _items - firstSplit;
            }
        }
        pool.Run(this, _items);
        for (var m = 0; m < _merges; m++)
            Merge(_mergeItem[m], _mergeItems[m]);
    }

    private void Add(int first, int tokens, int kvHead, int from, int to, int slot)
    {
        var i = _items++;
        (_first[i], _tokens[i], _kvHead[i], _from[i], _to[i], _slot[i]) = (first, tokens, kvHead, from, to, slot);
    }

    // The panels and score rows (48 KiB with 64 positions of 64) are written before they are read (the softmax steps' stale tail lanes
    // past a short panel are masked): zeroing them on every dispatch showed as ~2% of a 135M decode step at 500-800 positions (perf).
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public void Execute(int startItem, int endItem)
    {
        int hd = _c.HeadDim, vhd = _c.ValueHeadDim;
        Span<float> keyPanel = stackalloc float[_panel * hd];
        Span<float> valuePanel = stackalloc float[_panel * vhd];
        Span<float> scores = stackalloc float[_maxRows * _panel];
        Span<float> rowMax = stackalloc float[_maxRows];
        Span<float> rowSum = stackalloc float[_maxRows];
        Span<int> queryRows = stackalloc int[_maxRows];
        Span<int> outputRows = stackalloc int[_maxRows];
        for (var item = startItem; item < endItem; item++)
            Compute(item, keyPanel, valuePanel, scores, rowMax, rowSum, queryRows, outputRows);
    }

    private void Compute(int item, Span<float> keyPanel, Span<float> valuePanel, Span<float> scores, Span<float> rowMax, Span<float> rowSum,
        Span<int> queryRows, Span<int> outputRows)
    {
        var c = _c;
        int hd = c.HeadDim, vhd = c.ValueHeadDim, group = _group, panel = _panel, window = _window;
        int first = _first[item], n = _tokens[item], kvHead = _kvHead[item], from = _from[item], to = _to[item], slot = _slot[item];
        var cache = _s.Caches[first];
        var pFirst = _s.Positions[first];
        var rows = n * group;
        var output = slot < 0 ? _s.Att : _partial;
        for (var r = 0; r < rows; r++)
        {
            var h = kvHead * group + r % group;
            queryRows[r] = (first + r / group) * c.QDim + h * hd;
            outputRows[r] = slot < 0 ? (first + r / group) * _s.AttnWidth + h * vhd : (slot * _maxRows + r) * vhd;
            output.AsSpan(outputRows[r], vhd).Clear();
            rowMax[r] = float.NegativeInfinity;
            rowSum[r] = 0;
        }

        var type = cache.Type;
        var keyBytes = cache.Keys[_layer];
        var valueBytes = cache.Values[_layer];
        int keyOffset = KvCache.RowBytes(type, kvHead * hd), valueOffset = KvCache.RowBytes(type, kvHead * vhd);
        ReadOnlySpan<float> keys = keyPanel, values = valuePanel;
        int ldk = hd, ldv = vhd;
        for (var p0 = from; p0 <= to; p0 += panel)
        {
            var m = Math.Min(panel, to - p0 + 1);
            // The tokens that see any of [p0, p0 + m): at or after p0, and (with a window) not past it.
            var ta = Math.Max(0, p0 - pFirst);
            var tb = window > 0 ? Math.Min(n, p0 + m - 1 + window - pFirst) : n;
            if (ta >= tb)
                continue;
            switch (type)
            {
                case KvCacheType.F32:
                    keys = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(keyBytes.AsSpan(p0 * cache.KeyRowBytes + keyOffset));
                    values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(valueBytes.AsSpan(p0 * cache.ValueRowBytes + valueOffset));
                    ldk = cache.KeyRowBytes / 4;
                    ldv = cache.ValueRowBytes / 4;
                    break;
                case KvCacheType.F16:
                    AttentionKernels.HalfRows(keyBytes, p0 * cache.KeyRowBytes + keyOffset, cache.KeyRowBytes, m, hd, keyPanel, hd);
                    AttentionKernels.HalfRows(valueBytes, p0 * cache.ValueRowBytes + valueOffset, cache.ValueRowBytes, m, vhd, valuePanel, vhd);
                    break;
                default:
                    AttentionKernels.Q8_0Rows(keyBytes, p0 * cache.KeyRowBytes + keyOffset, cache.KeyRowBytes, m, hd, keyPanel, hd);
                    AttentionKernels.Q8_0Rows(valueBytes, p0 * cache.ValueRowBytes + valueOffset, cache.ValueRowBytes, m, vhd, valuePanel, vhd);
                    break;
            }
            int ra = ta * group, rb = tb * group;
            AttentionKernels.Scores(_s.Q, queryRows[ra..rb], keys, ldk, m, hd, scores, panel);
            for (var r = ra; r < rb; r++)
            {
                var row = scores.Slice((r - ra) * panel, panel);
                var pos = pFirst + r / group;
                // This row's positions within the panel: its window's start to itself.
                var ia = Math.Max(0, (window > 0 ? pos - window + 1 : 0) - p0);
                var ib = Math.Min(m, pos - p0 + 1);
                if (ia >= ib)
                {
                    row[..m].Clear();
                    continue;
                }
                var max = AttentionKernels.ScaleAndMax(row, m, ia, ib, _scale, c.AttentionSoftcap);
                if (max > rowMax[r])
                {
                    if (rowSum[r] > 0)
                    {
                        var rescale = MathF.Exp(rowMax[r] - max);
                        rowSum[r] *= rescale;
                        foreach (ref var o in output.AsSpan(outputRows[r], vhd))
                            o *= rescale;
                    }
                    rowMax[r] = max;
                }
                rowSum[r] += AttentionKernels.ExpAndSum(row, m, ia, ib, rowMax[r]);
            }
            AttentionKernels.AccumulateValues(scores, panel, values, ldv, m, vhd, output, outputRows[ra..rb]);
        }

        for (var r = 0; r < rows; r++)
        {
            if (slot >= 0)
            {
                _partialMax[slot * _maxRows + r] = rowMax[r];
                _partialSum[slot * _maxRows + r] = rowSum[r];
                continue;
            }
            var inv = 1f / rowSum[r];
            foreach (ref var o in output.AsSpan(outputRows[r], vhd))
                o *= inv;
        }
    }

    // Combines the partial results of the split items [item, item + items) of one block and KV head into the attention output.
    private void Merge(int item, int items)
    {
        var vhd = _c.ValueHeadDim;
        int first = _first[item], kvHead = _kvHead[item];
        for (var r = 0; r < _tokens[item] * _group; r++)
        {
            var max = float.NegativeInfinity;
            for (var i = item; i < item + items; i++)
                max = MathF.Max(max, _partialMax[_slot[i] * _maxRows + r]);
            var output = _s.Att.AsSpan((first + r / _group) * _s.AttnWidth + (kvHead * _group + r % _group) * vhd, vhd);
            output.Clear();
            var sum = 0f;
            for (var i = item; i < item + items; i++)
            {
                var at = _slot[i] * _maxRows + r;
                // A split that saw none of this row's positions holds nothing (max -inf, sum 0).
                if (_partialSum[at] <= 0)
                    continue;
                var weight = MathF.Exp(_partialMax[at] - max);
                sum += _partialSum[at] * weight;
                Blocks.AxpY(weight, _partial.AsSpan(at * vhd, vhd), output);
            }
            var inv = 1f / sum;
            for (var d = 0; d < vhd; d++)
                output[d] *= inv;
        }
    }
}
