using System.Runtime.Intrinsics;
using Basalt.Engine.Models;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Training;

/// <summary>The forward and backward pass of a <see cref="TrainableModel"/> over a batch of up to B sequences of T positions,
/// with every activation the backward pass needs allocated once up front. Rows of the activation matrices are tokens
/// (row b * T + t); sequences shorter than T leave their tail rows zero, and nothing flows through them.</summary>
internal sealed unsafe class TrainingGraph
{
    private readonly TrainableModel _m;
    private readonly TrainingShape _s;
    private readonly WorkerPool _pool;
    private readonly int _b, _t, _n;
    private readonly float _scale;

    // Inputs of the current batch.
    private readonly int[] _inputs, _targets, _lengths;
    private readonly bool[] _counted;
    private int _countedTokens;

    // Activations: per layer, then final.
    private readonly float[][] _x, _xn1, _rms1, _q, _k, _v, _p, _att, _x2, _xn2, _rms2, _g, _u, _h;
    private readonly float[] _xnF, _rmsF, _logits, _rowLoss;
    private readonly float[] _cos, _sin;

    // Backward scratch.
    private readonly float[] _dx, _dxn, _dq, _dk, _dv, _datt, _dg, _du, _dh, _tmp;
    private readonly float[] _ta, _tb, _tw;

    private readonly MatMulJob _mm = new();
    private readonly TransposeJob _tr = new();
    private readonly RowsJob _normJob, _normBackJob, _attnJob, _attnBackJob, _swigluJob, _swigluBackJob, _lossJob, _ropeJob;

    // Arguments of the row jobs, set before each dispatch.
    private float[] _jx = [], _jy = [], _jr = [], _jdy = [], _jdx = [];
    private int _jw, _jlayer;
    private bool _jwithGrad, _jaccumulate, _jropeInverse;
    private float[] _jropeA = [], _jropeB = [];

    public TrainingGraph(TrainableModel model, int batch, int sequence, WorkerPool pool)
    {
        _m = model;
        _s = model.Shape;
        _pool = pool;
        _b = batch;
        _t = sequence;
        _n = checked(batch * sequence);
        _scale = 1f / MathF.Sqrt(_s.HeadDim);
        var s = _s;
        var n = _n;
        _inputs = new int[n];
        _targets = new int[n];
        _counted = new bool[n];
        _lengths = new int[batch];
        float[][] PerLayer(long size)
        {
            var a = new float[s.Layers][];
            for (var l = 0; l < s.Layers; l++)
                a[l] = new float[size];
            return a;
        }
        _x = PerLayer((long)n * s.Dim);
        _xn1 = PerLayer((long)n * s.Dim);
        _rms1 = PerLayer(n);
        _q = PerLayer((long)n * s.QDim);
        _k = PerLayer((long)n * s.KvDim);
        _v = PerLayer((long)n * s.KvDim);
        _p = PerLayer((long)batch * s.Heads * sequence * sequence);
        _att = PerLayer((long)n * s.QDim);
        _x2 = PerLayer((long)n * s.Dim);
        _xn2 = PerLayer((long)n * s.Dim);
        _rms2 = PerLayer(n);
        _g = PerLayer((long)n * s.FfnDim);
        _u = PerLayer((long)n * s.FfnDim);
        _h = PerLayer((long)n * s.FfnDim);
        XFinal = new float[(long)n * s.Dim];
        _xnF = new float[(long)n * s.Dim];
        _rmsF = new float[n];
        _logits = new float[(long)n * s.VocabSize];
        _rowLoss = new float[n];
        var pairs = s.HeadDim / 2;
        _cos = new float[sequence * pairs];
        _sin = new float[sequence * pairs];
        var inv = new float[pairs];
        for (var i = 0; i < pairs; i++)
            inv[i] = (float)Math.Pow(s.RopeBase, -2.0 * i / s.HeadDim);
        for (var t = 0; t < sequence; t++)
            for (var i = 0; i < pairs; i++)
            {
                // The engine's table: float position times float inverse frequency.
                var (sn, cs) = MathF.SinCos(t * inv[i]);
                _cos[t * pairs + i] = cs;
                _sin[t * pairs + i] = sn;
            }
        _dx = new float[(long)n * s.Dim];
        _dxn = new float[(long)n * s.Dim];
        _tmp = new float[(long)n * s.Dim];
        _dq = new float[(long)n * s.QDim];
        _dk = new float[(long)n * s.KvDim];
        _dv = new float[(long)n * s.KvDim];
        _datt = new float[(long)n * s.QDim];
        _dg = new float[(long)n * s.FfnDim];
        _du = new float[(long)n * s.FfnDim];
        _dh = new float[(long)n * s.FfnDim];
        var widest = Math.Max(Math.Max(s.VocabSize, s.FfnDim), Math.Max(s.Dim, s.QDim));
        _ta = new float[(long)widest * n];
        _tb = new float[(long)widest * n];
        long biggest = 0;
        foreach (var t in model.Tensors)
            biggest = Math.Max(biggest, t.Length);
        _tw = new float[biggest];
        _normJob = new RowsJob(NormRows);
        _normBackJob = new RowsJob(NormBackRows);
        _attnJob = new RowsJob(AttentionItems);
        _attnBackJob = new RowsJob(AttentionBackItems);
        _swigluJob = new RowsJob(SwiGluRows);
        _swigluBackJob = new RowsJob(SwiGluBackRows);
        _lossJob = new RowsJob(LossRows);
        _ropeJob = new RowsJob(RopeRows);
    }

    public int BatchSize => _b;
    public int SequenceLength => _t;
    /// <summary>Tokens counted in the loss of the current batch.</summary>
    public int CountedTokens => _countedTokens;
    /// <summary>The last layer's output (before the final norm) of the current batch.</summary>
    public float[] XFinal { get; }
    /// <summary>Logits of the current batch after <see cref="Forward"/> (row b * T + t); overwritten by their gradient in <see cref="Backward"/>.</summary>
    public float[] Logits => _logits;

    /// <summary>Loads a batch: at most B examples of at most T + 1 tokens each.</summary>
    public void SetBatch(IReadOnlyList<TrainingExample> batch, int start, int count)
    {
        if (count > _b)
            throw new ArgumentException($"The batch has {count} sequences; this trainer takes at most {_b}.");
        Array.Clear(_inputs);
        Array.Clear(_targets);
        Array.Clear(_counted);
        Array.Clear(_lengths);
        _countedTokens = 0;
        for (var i = 0; i < count; i++)
        {
            var e = batch[start + i];
            var tokens = e.Tokens;
            if (tokens.Length < 2 || tokens.Length > _t + 1)
                throw new ArgumentException($"Example {start + i} has {tokens.Length} tokens; each needs 2 to {_t + 1} (sequence length + 1).");
            if (e.LossMask is { } mask && mask.Length != tokens.Length)
                throw new ArgumentException($"Example {start + i} has {tokens.Length} tokens but a loss mask of {mask.Length}.");
            _lengths[i] = tokens.Length - 1;
            for (var t = 0; t < tokens.Length - 1; t++)
            {
                var r = i * _t + t;
                var input = tokens[t];
                var target = tokens[t + 1];
                if ((uint)input >= (uint)_s.VocabSize || (uint)target >= (uint)_s.VocabSize)
                    throw new ArgumentException($"Example {start + i} has token id {Math.Max(input, target)} outside the vocabulary of {_s.VocabSize}.");
                _inputs[r] = input;
                _targets[r] = target;
                if (e.LossMask is null || e.LossMask[t + 1])
                {
                    _counted[r] = true;
                    _countedTokens++;
                }
            }
        }
    }

    private bool Valid(int row) => row % _t < _lengths[row / _t];

    /// <summary>Runs the forward pass; returns the summed loss of the counted tokens. With <paramref name="withGrad"/> the logits are
    /// replaced by d(mean loss)/d(logits).</summary>
    public double Forward(bool withGrad)
    {
        var s = _s;
        var w = _m.Parameters;
        var d = s.Dim;
        // Embedding.
        var x0 = _x[0];
        Array.Clear(x0);
        for (var r = 0; r < _n; r++)
            if (Valid(r))
                w.AsSpan(_m.Embedding + _inputs[r] * d, d).CopyTo(x0.AsSpan(r * d, d));
        for (var l = 0; l < s.Layers; l++)
        {
            var o = _m.Layers[l];
            var x = _x[l];
            Norm(x, o.AttnNorm, _xn1[l], _rms1[l]);
            MatMul(_xn1[l], w, o.Q, _q[l], s.QDim, d, false);
            MatMul(_xn1[l], w, o.K, _k[l], s.KvDim, d, false);
            MatMul(_xn1[l], w, o.V, _v[l], s.KvDim, d, false);
            Rope(_q[l], _k[l], inverse: false);
            _jlayer = l;
            _attnJob.Run(_pool, _b * s.KvHeads);
            var x2 = _x2[l];
            x.CopyTo(x2, 0);
            MatMul(_att[l], w, o.O, x2, d, s.QDim, true);
            Norm(x2, o.FfnNorm, _xn2[l], _rms2[l]);
            MatMul(_xn2[l], w, o.Gate, _g[l], s.FfnDim, d, false);
            MatMul(_xn2[l], w, o.Up, _u[l], s.FfnDim, d, false);
            _jlayer = l;
            _swigluJob.Run(_pool, _n, 16);
            var next = l + 1 < s.Layers ? _x[l + 1] : XFinal;
            x2.CopyTo(next, 0);
            MatMul(_h[l], w, o.Down, next, d, s.FfnDim, true);
        }
        Norm(XFinal, _m.OutputNorm, _xnF, _rmsF);
        MatMul(_xnF, w, _m.Output, _logits, s.VocabSize, d, false);
        _jwithGrad = withGrad;
        _lossJob.Run(_pool, _n, 4);
        double total = 0;
        for (var r = 0; r < _n; r++)
            total += _rowLoss[r];
        return total;
    }

    /// <summary>Accumulates the gradient of the mean loss into <paramref name="grad"/> (laid out like the parameters) after a forward pass with gradients.</summary>
    public void Backward(float[] grad)
    {
        var s = _s;
        var w = _m.Parameters;
        var d = s.Dim;
        var n = _n;
        // Output projection and final norm.
        WeightGrad(_logits, s.VocabSize, _xnF, d, grad, _m.Output);
        InputGrad(_logits, s.VocabSize, w, _m.Output, d, _dxn, false);
        NormBack(XFinal, _m.OutputNorm, _rmsF, _dxn, _dx, grad, accumulateInput: false);
        for (var l = s.Layers - 1; l >= 0; l--)
        {
            var o = _m.Layers[l];
            // FFN: x_{l+1} = x2 + down(silu(gate(xn2)) * up(xn2)).
            WeightGrad(_dx, d, _h[l], s.FfnDim, grad, o.Down);
            InputGrad(_dx, d, w, o.Down, s.FfnDim, _dh, false);
            _jlayer = l;
            _swigluBackJob.Run(_pool, n, 16);
            Transpose(_xn2[l], n, d, _tb);
            WeightGradT(_dg, s.FfnDim, d, grad, o.Gate);
            WeightGradT(_du, s.FfnDim, d, grad, o.Up);
            InputGrad(_dg, s.FfnDim, w, o.Gate, d, _dxn, false);
            InputGrad(_du, s.FfnDim, w, o.Up, d, _dxn, true);
            NormBack(_x2[l], o.FfnNorm, _rms2[l], _dxn, _dx, grad, accumulateInput: true);
            // Attention: x2 = x + o(attention(rope(q(xn1)), rope(k(xn1)), v(xn1))).
            WeightGrad(_dx, d, _att[l], s.QDim, grad, o.O);
            InputGrad(_dx, d, w, o.O, s.QDim, _datt, false);
            _jlayer = l;
            _attnBackJob.Run(_pool, _b * s.KvHeads);
            Rope(_dq, _dk, inverse: true);
            Transpose(_xn1[l], n, d, _tb);
            WeightGradT(_dq, s.QDim, d, grad, o.Q);
            WeightGradT(_dk, s.KvDim, d, grad, o.K);
            WeightGradT(_dv, s.KvDim, d, grad, o.V);
            InputGrad(_dq, s.QDim, w, o.Q, d, _dxn, false);
            InputGrad(_dk, s.KvDim, w, o.K, d, _dxn, true);
            InputGrad(_dv, s.KvDim, w, o.V, d, _dxn, true);
            NormBack(_x[l], o.AttnNorm, _rms1[l], _dxn, _dx, grad, accumulateInput: true);
        }
        // Embedding rows, in row order so the sum is the same on every run.
        for (var r = 0; r < n; r++)
            if (Valid(r))
            {
                var dst = grad.AsSpan(_m.Embedding + _inputs[r] * d, d);
                Blocks.Add(dst, _dx.AsSpan(r * d, d));
            }
    }

    // ---- matrix products ----

    // y[N, outDim] (+)= x[N, inDim] · W[outDim, inDim]ᵀ
    private void MatMul(float[] x, float[] w, int wOffset, float[] y, int outDim, int inDim, bool accumulate) =>
        _mm.Run(_pool, x, 0, w, wOffset, y, 0, _n, outDim, inDim, accumulate);

    // dW[outDim, inDim] += dyᵀ · x, with dy [N, outDim] and x [N, inDim].
    private void WeightGrad(float[] dy, int outDim, float[] x, int inDim, float[] grad, int offset)
    {
        Transpose(x, _n, inDim, _tb);
        WeightGradT(dy, outDim, inDim, grad, offset);
    }

    // As WeightGrad with xᵀ already in _tb.
    private void WeightGradT(float[] dy, int outDim, int inDim, float[] grad, int offset)
    {
        Transpose(dy, _n, outDim, _ta);
        _mm.Run(_pool, _ta, 0, _tb, 0, grad, offset, outDim, inDim, _n, true);
    }

    // dx[N, inDim] (+)= dy[N, outDim] · W[outDim, inDim]
    private void InputGrad(float[] dy, int outDim, float[] w, int offset, int inDim, float[] dx, bool accumulate)
    {
        _tr.Run(_pool, w, offset, _tw, 0, outDim, inDim);
        _mm.Run(_pool, dy, 0, _tw, 0, dx, 0, _n, inDim, outDim, accumulate);
    }

    private void Transpose(float[] src, int rows, int cols, float[] dst) => _tr.Run(_pool, src, 0, dst, 0, rows, cols);

    // ---- RMSNorm ----

    private void Norm(float[] x, int weight, float[] y, float[] rms)
    {
        (_jx, _jw, _jy, _jr) = (x, weight, y, rms);
        _normJob.Run(_pool, _n, 16);
    }

    private void NormRows(int start, int end)
    {
        var d = _s.Dim;
        var w = _m.Parameters.AsSpan(_jw, d);
        for (var r = start; r < end; r++)
        {
            var x = _jx.AsSpan(r * d, d);
            var y = _jy.AsSpan(r * d, d);
            var ss = Tensors.FloatKernels.DotF32(x, x);
            var scale = 1f / MathF.Sqrt(ss / d + _s.NormEpsilon);
            _jr[r] = scale;
            for (var i = 0; i < d; i++)
                y[i] = x[i] * scale * w[i];
        }
    }

    // dx (+)= d norm(x)/dx · dy; dw += Σ_rows dy ⊙ x · rms.
    private void NormBack(float[] x, int weight, float[] rms, float[] dy, float[] dx, float[] grad, bool accumulateInput)
    {
        (_jx, _jw, _jr, _jdy, _jdx, _jaccumulate) = (x, weight, rms, dy, dx, accumulateInput);
        _normBackJob.Run(_pool, _n, 16);
        var d = _s.Dim;
        var dw = grad.AsSpan(weight, d);
        for (var r = 0; r < _n; r++)
        {
            var scale = rms[r];
            var xr = x.AsSpan(r * d, d);
            var dyr = dy.AsSpan(r * d, d);
            for (var i = 0; i < d; i++)
                dw[i] += dyr[i] * xr[i] * scale;
        }
    }

    private void NormBackRows(int start, int end)
    {
        var d = _s.Dim;
        var w = _m.Parameters.AsSpan(_jw, d);
        for (var r = start; r < end; r++)
        {
            var x = _jx.AsSpan(r * d, d);
            var dy = _jdy.AsSpan(r * d, d);
            var dx = _jdx.AsSpan(r * d, d);
            var scale = _jr[r];
            var dot = 0f;
            for (var i = 0; i < d; i++)
                dot += dy[i] * w[i] * x[i];
            var k = scale * scale * scale * dot / d;
            if (_jaccumulate)
                for (var i = 0; i < d; i++)
                    dx[i] += scale * dy[i] * w[i] - x[i] * k;
            else
                for (var i = 0; i < d; i++)
                    dx[i] = scale * dy[i] * w[i] - x[i] * k;
        }
    }

    // ---- RoPE (adjacent pairs, as the engine's llama) ----

    private void Rope(float[] a, float[] b, bool inverse)
    {
        (_jropeA, _jropeB, _jropeInverse) = (a, b, inverse);
        _ropeJob.Run(_pool, _n, 16);
    }

    private void RopeRows(int start, int end)
    {
        var s = _s;
        var pairs = s.HeadDim / 2;
        var sign = _jropeInverse ? -1f : 1f;
        for (var r = start; r < end; r++)
        {
            if (!Valid(r))
                continue;
            var t = r % _t;
            var cos = _cos.AsSpan(t * pairs, pairs);
            var sin = _sin.AsSpan(t * pairs, pairs);
            Rotate(_jropeA.AsSpan(r * s.QDim, s.QDim), s.Heads, s.HeadDim, cos, sin, sign);
            Rotate(_jropeB.AsSpan(r * s.KvDim, s.KvDim), s.KvHeads, s.HeadDim, cos, sin, sign);
        }
    }

    private static void Rotate(Span<float> v, int heads, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, float sign)
    {
        var pairs = cos.Length;
        for (var h = 0; h < heads; h++)
        {
            var head = v.Slice(h * headDim, headDim);
            for (var i = 0; i < pairs; i++)
            {
                float x0 = head[2 * i], x1 = head[2 * i + 1], c = cos[i], sn = sign * sin[i];
                head[2 * i] = x0 * c - x1 * sn;
                head[2 * i + 1] = x0 * sn + x1 * c;
            }
        }
    }

    // ---- attention, one (sequence, kv head) per work item so the key/value gradients of a group are summed by one thread ----

    private void AttentionItems(int start, int end)
    {
        var s = _s;
        var hd = s.HeadDim;
        var group = s.Heads / s.KvHeads;
        var l = _jlayer;
        var q = _q[l]; var k = _k[l]; var v = _v[l]; var p = _p[l]; var att = _att[l];
        fixed (float* pq = q, pk = k)
            for (var item = start; item < end; item++)
            {
                var b = item / s.KvHeads;
                var kvh = item % s.KvHeads;
                var len = _lengths[b];
                for (var g = 0; g < group; g++)
                {
                    var h = kvh * group + g;
                    for (var t = 0; t < _t; t++)
                    {
                        var r = b * _t + t;
                        var output = att.AsSpan(r * s.QDim + h * hd, hd);
                        output.Clear();
                        if (t >= len)
                            continue;
                        var probs = p.AsSpan(((b * s.Heads + h) * _t + t) * _t, t + 1);
                        var qr = pq + r * s.QDim + h * hd;
                        var max = float.NegativeInfinity;
                        for (var j = 0; j <= t; j++)
                        {
                            var score = MatMulJob.Dot(qr, pk + (b * _t + j) * s.KvDim + kvh * hd, hd) * _scale;
                            probs[j] = score;
                            max = MathF.Max(max, score);
                        }
                        var sum = 0f;
                        for (var j = 0; j <= t; j++)
                        {
                            probs[j] = MathF.Exp(probs[j] - max);
                            sum += probs[j];
                        }
                        var inv = 1f / sum;
                        for (var j = 0; j <= t; j++)
                        {
                            probs[j] *= inv;
                            Blocks.AxpY(probs[j], v.AsSpan((b * _t + j) * s.KvDim + kvh * hd, hd), output);
                        }
                    }
                }
            }
    }

    private void AttentionBackItems(int start, int end)
    {
        var s = _s;
        var hd = s.HeadDim;
        var group = s.Heads / s.KvHeads;
        var l = _jlayer;
        var q = _q[l]; var k = _k[l]; var v = _v[l]; var p = _p[l];
        fixed (float* pv = v, pdatt = _datt)
            for (var item = start; item < end; item++)
            {
                var b = item / s.KvHeads;
                var kvh = item % s.KvHeads;
                var len = _lengths[b];
                for (var t = 0; t < _t; t++)
                {
                    var r = b * _t + t;
                    _dk.AsSpan(r * s.KvDim + kvh * hd, hd).Clear();
                    _dv.AsSpan(r * s.KvDim + kvh * hd, hd).Clear();
                }
                for (var g = 0; g < group; g++)
                {
                    var h = kvh * group + g;
                    for (var t = 0; t < _t; t++)
                    {
                        var r = b * _t + t;
                        var dq = _dq.AsSpan(r * s.QDim + h * hd, hd);
                        dq.Clear();
                        if (t >= len)
                            continue;
                        var probs = p.AsSpan(((b * s.Heads + h) * _t + t) * _t, t + 1);
                        var dOut = pdatt + r * s.QDim + h * hd;
                        var qr = q.AsSpan(r * s.QDim + h * hd, hd);
                        // ds_j = p_j (dp_j - Σ p_i dp_i).
                        // dv_j += p_j dO; dp_j = dO · v_j (recomputed in the second pass rather than stored).
                        var dot = 0f;
                        for (var j = 0; j <= t; j++)
                        {
                            var row = (b * _t + j) * s.KvDim + kvh * hd;
                            Blocks.AxpY(probs[j], new ReadOnlySpan<float>(dOut, hd), _dv.AsSpan(row, hd));
                            dot += probs[j] * MatMulJob.Dot(dOut, pv + row, hd);
                        }
                        for (var j = 0; j <= t; j++)
                        {
                            var row = (b * _t + j) * s.KvDim + kvh * hd;
                            var dpj = MatMulJob.Dot(dOut, pv + row, hd);
                            var ds = probs[j] * (dpj - dot) * _scale;
                            Blocks.AxpY(ds, k.AsSpan(row, hd), dq);
                            Blocks.AxpY(ds, qr, _dk.AsSpan(row, hd));
                        }
                    }
                }
            }
    }

    // ---- SwiGLU ----

    private void SwiGluRows(int start, int end)
    {
        var f = _s.FfnDim;
        var l = _jlayer;
        var g = _g[l]; var u = _u[l]; var h = _h[l];
        for (var i = start * f; i < end * f; i++)
        {
            var x = g[i];
            h[i] = x / (1f + MathF.Exp(-x)) * u[i];
        }
    }

    private void SwiGluBackRows(int start, int end)
    {
        var f = _s.FfnDim;
        var l = _jlayer;
        var g = _g[l]; var u = _u[l];
        for (var i = start * f; i < end * f; i++)
        {
            var x = g[i];
            var sig = 1f / (1f + MathF.Exp(-x));
            var silu = x * sig;
            var dh = _dh[i];
            _du[i] = dh * silu;
            _dg[i] = dh * u[i] * sig * (1f + x * (1f - sig));
        }
    }

    // ---- cross-entropy ----

    private void LossRows(int start, int end)
    {
        var v = _s.VocabSize;
        var inv = _countedTokens > 0 ? 1f / _countedTokens : 0f;
        for (var r = start; r < end; r++)
        {
            var row = _logits.AsSpan(r * v, v);
            if (!_counted[r])
            {
                _rowLoss[r] = 0;
                if (_jwithGrad)
                    row.Clear();
                continue;
            }
            var max = float.NegativeInfinity;
            foreach (var x in row)
                max = MathF.Max(max, x);
            var sum = 0.0;
            for (var i = 0; i < v; i++)
                sum += MathF.Exp(row[i] - max);
            var target = _targets[r];
            _rowLoss[r] = (float)(Math.Log(sum) + max - row[target]);
            if (!_jwithGrad)
                continue;
            var invSum = (float)(1.0 / sum);
            for (var i = 0; i < v; i++)
                row[i] = MathF.Exp(row[i] - max) * invSum * inv;
            row[target] -= inv;
        }
    }
}
