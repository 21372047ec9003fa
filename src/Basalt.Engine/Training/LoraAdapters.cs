using Basalt.Engine.Threading;

namespace Basalt.Engine.Training;

/// <summary>Rank-r adapters on every attention and FFN projection: W = W₀ + (alpha / r) · B · A with A [r, in] and B [out, r].
/// The base W₀ stays frozen; the model's parameters always hold the merged weights, so the forward pass and the export need
/// nothing special. The gradient of A and B comes from the full gradient of W: dB = s · dW · Aᵀ, dA = s · Bᵀ · dW.</summary>
internal sealed class LoraAdapters
{
    /// <summary>One adapted matrix: its tensor, frozen base copy, and the offsets of A and B in <see cref="Parameters"/>.</summary>
    internal sealed record Adapter(ParameterTensor Tensor, float[] Base, int A, int B);

    private readonly TrainableModel _model;
    private readonly MatMulJob _mm = new();
    private readonly TransposeJob _tr = new();
    private readonly float[] _scratch, _scratch2;

    public LoraAdapters(TrainableModel model, int rank, float alpha, int seed)
    {
        _model = model;
        Rank = rank;
        Scale = alpha / rank;
        var adapted = new List<Adapter>();
        var offset = 0;
        long biggest = 0;
        foreach (var t in model.Tensors)
        {
            if (!t.Decay || t.Offset == model.Embedding || t.Offset == model.Output)
                continue;
            adapted.Add(new Adapter(t, model.Parameters.AsSpan(t.Offset, t.Length).ToArray(), offset, offset + rank * t.Cols));
            offset = checked(offset + rank * (t.Cols + t.Rows));
            biggest = Math.Max(biggest, t.Length);
        }
        Adapted = adapted;
        Parameters = new float[offset];
        _scratch = new float[biggest];
        _scratch2 = new float[biggest];
        // A ~ normal(0, 1/sqrt(in)), B = 0: training starts exactly at the base model.
        var rng = new Generation.Rng((ulong)seed ^ 0x4C6F5241UL);
        foreach (var a in adapted)
        {
            var std = 1.0 / Math.Sqrt(a.Tensor.Cols);
            var span = Parameters.AsSpan(a.A, rank * a.Tensor.Cols);
            for (var i = 0; i < span.Length; i++)
                span[i] = (float)(std * TrainableModel.Gaussian(ref rng));
        }
    }

    public int Rank { get; }
    public float Scale { get; }
    public IReadOnlyList<Adapter> Adapted { get; }
    /// <summary>Every A and B, adapter after adapter.</summary>
    public float[] Parameters { get; }

    /// <summary>Writes W₀ + s · B · A into the model's parameters.</summary>
    public void Merge()
    {
        var p = _model.Parameters;
        foreach (var a in Adapted)
        {
            var (rows, cols) = (a.Tensor.Rows, a.Tensor.Cols);
            for (var o = 0; o < rows; o++)
            {
                var w = p.AsSpan(a.Tensor.Offset + o * cols, cols);
                a.Base.AsSpan(o * cols, cols).CopyTo(w);
                for (var r = 0; r < Rank; r++)
                {
                    var coefficient = Scale * Parameters[a.B + o * Rank + r];
                    if (coefficient == 0)
                        continue;
                    var row = Parameters.AsSpan(a.A + r * cols, cols);
                    for (var i = 0; i < cols; i++)
                        w[i] += coefficient * row[i];
                }
            }
        }
    }

    /// <summary>From the full gradient <paramref name="grad"/>, writes the adapters' gradient into <paramref name="loraGrad"/>.</summary>
    public void Backward(float[] grad, float[] loraGrad, WorkerPool pool)
    {
        foreach (var a in Adapted)
        {
            var (rows, cols) = (a.Tensor.Rows, a.Tensor.Cols);
            // dB [out, r] = dW [out, in] · A[r, in]ᵀ
            _mm.Run(pool, grad, a.Tensor.Offset, Parameters, a.A, loraGrad, a.B, rows, Rank, cols, false);
            // dA [r, in] = Bᵀ [r, out] · (dWᵀ [in, out])ᵀ
            _tr.Run(pool, Parameters, a.B, _scratch2, 0, rows, Rank);
            _tr.Run(pool, grad, a.Tensor.Offset, _scratch, 0, rows, cols);
            _mm.Run(pool, _scratch2, 0, _scratch, 0, loraGrad, a.A, Rank, cols, rows, false);
            foreach (ref var g in loraGrad.AsSpan(a.A, Rank * (rows + cols)))
                g *= Scale;
        }
    }
}
