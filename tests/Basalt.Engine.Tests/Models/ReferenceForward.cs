using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Tests.Models;

/// <summary>A plain double-precision transformer written straight from the math, reading weights by dequantizing them with the
/// tensor library; the optimized forward pass is compared against it. Slow and obvious on purpose.</summary>
internal sealed class ReferenceForward
{
    private readonly GgufFile _file;
    private readonly ModelShape _s;
    private readonly List<double[]>[] _keys;
    private readonly List<double[]>[] _values;

    public ReferenceForward(GgufFile file, ModelShape shape)
    {
        _file = file;
        _s = shape;
        _keys = new List<double[]>[shape.Layers];
        _values = new List<double[]>[shape.Layers];
        for (var l = 0; l < shape.Layers; l++)
        {
            _keys[l] = [];
            _values[l] = [];
        }
    }

    private string Arch => _s.Architecture;
    private bool Gemma => Arch is "gemma2" or "gemma3";
    private bool NeoX => Arch is not "llama";

    private readonly Dictionary<string, double[][]> _matrices = [];

    private double[][] Matrix(string name)
    {
        if (_matrices.TryGetValue(name, out var cached))
            return cached;
        var t = _file.GetTensor(name);
        var rows = new double[t.RowCount][];
        var buffer = new float[t.RowLength];
        for (var r = 0; r < rows.Length; r++)
        {
            TensorOps.DequantizeRow(t.Type, _file.TensorRow(t, r), buffer);
            rows[r] = Array.ConvertAll(buffer, f => (double)f);
        }
        return _matrices[name] = rows;
    }

    private double[]? Vector(string name)
    {
        if (!_file.TryGetTensor(name, out var t))
            return null;
        var buffer = new float[t.ElementCount];
        TensorOps.DequantizeRow(t.Type, _file.TensorData(t), buffer);
        return Array.ConvertAll(buffer, f => (double)f);
    }

    private static double[] MatVec(double[][] w, double[] x)
    {
        var y = new double[w.Length];
        for (var r = 0; r < w.Length; r++)
        {
            var sum = 0.0;
            for (var i = 0; i < x.Length; i++)
                sum += w[r][i] * x[i];
            y[r] = sum;
        }
        return y;
    }

    private static double[] RmsNorm(double[] x, double[] w, double eps)
    {
        var ss = 0.0;
        foreach (var v in x)
            ss += v * v;
        var scale = 1 / Math.Sqrt(ss / x.Length + eps);
        var y = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
            y[i] = x[i] * scale * w[i];
        return y;
    }

    private void Rope(double[] v, int heads, int pos)
    {
        var d = _s.HeadDim;
        for (var h = 0; h < heads; h++)
            for (var i = 0; i < d / 2; i++)
            {
                var theta = pos * Math.Pow(10000.0, -2.0 * i / d);
                var (a, b) = NeoX ? (h * d + i, h * d + i + d / 2) : (h * d + 2 * i, h * d + 2 * i + 1);
                double x0 = v[a], x1 = v[b];
                v[a] = x0 * Math.Cos(theta) - x1 * Math.Sin(theta);
                v[b] = x0 * Math.Sin(theta) + x1 * Math.Cos(theta);
            }
    }

    /// <summary>Logits after feeding <paramref name="token"/> at the next position.</summary>
    public double[] Step(int token)
    {
        const double Eps = 1e-5;
        var s = _s;
        var pos = _keys[0].Count;
        var x = (double[])Matrix(GgufTensorNames.TokenEmbedding)[token].Clone();
        if (Gemma)
            x = Array.ConvertAll(x, v => v * Math.Sqrt(s.Dim));
        int qDim = s.Heads * s.HeadDim, kvDim = s.KvHeads * s.HeadDim;
        for (var l = 0; l < s.Layers; l++)
        {
            string B(string n, string suffix = GgufTensorNames.Weight) => GgufTensorNames.Block(l, n, suffix);
            var h = RmsNorm(x, Vector(B(GgufTensorNames.AttnNorm))!, Eps);
            double[] q, k, v;
            if (_file.TryGetTensor(B(GgufTensorNames.AttnQkv), out _))
            {
                var qkv = MatVec(Matrix(B(GgufTensorNames.AttnQkv)), h);
                q = qkv[..qDim];
                k = qkv[qDim..(qDim + kvDim)];
                v = qkv[(qDim + kvDim)..];
            }
            else
            {
                q = MatVec(Matrix(B(GgufTensorNames.AttnQ)), h);
                k = MatVec(Matrix(B(GgufTensorNames.AttnK)), h);
                v = MatVec(Matrix(B(GgufTensorNames.AttnV)), h);
            }
            if (Vector(B(GgufTensorNames.AttnQ, GgufTensorNames.Bias)) is { } bq)
                for (var i = 0; i < qDim; i++) q[i] += bq[i];
            if (Vector(B(GgufTensorNames.AttnK, GgufTensorNames.Bias)) is { } bk)
                for (var i = 0; i < kvDim; i++) k[i] += bk[i];
            if (Vector(B(GgufTensorNames.AttnV, GgufTensorNames.Bias)) is { } bv)
                for (var i = 0; i < kvDim; i++) v[i] += bv[i];
            if (Vector(B(GgufTensorNames.AttnQNorm)) is { } qn)
                for (var hh = 0; hh < s.Heads; hh++)
                    RmsNorm(q[(hh * s.HeadDim)..((hh + 1) * s.HeadDim)], qn, Eps).CopyTo(q, hh * s.HeadDim);
            if (Vector(B(GgufTensorNames.AttnKNorm)) is { } kn)
                for (var hh = 0; hh < s.KvHeads; hh++)
                    RmsNorm(k[(hh * s.HeadDim)..((hh + 1) * s.HeadDim)], kn, Eps).CopyTo(k, hh * s.HeadDim);
            Rope(q, s.Heads, pos);
            Rope(k, s.KvHeads, pos);
            _keys[l].Add(k);
            _values[l].Add(v);

            var window = Arch == "gemma2" && l % 2 == 0 ? 4 : int.MaxValue;
            var first = Math.Max(0, pos - window + 1);
            var att = new double[qDim];
            for (var hh = 0; hh < s.Heads; hh++)
            {
                var kvh = hh / (s.Heads / s.KvHeads);
                var scores = new double[pos + 1 - first];
                for (var t = first; t <= pos; t++)
                {
                    var dot = 0.0;
                    for (var i = 0; i < s.HeadDim; i++)
                        dot += q[hh * s.HeadDim + i] * _keys[l][t][kvh * s.HeadDim + i];
                    dot /= Math.Sqrt(s.HeadDim);
                    if (Arch == "gemma2")
                        dot = 50 * Math.Tanh(dot / 50);
                    scores[t - first] = dot;
                }
                var max = scores.Max();
                var sum = 0.0;
                for (var t = 0; t < scores.Length; t++)
                    sum += scores[t] = Math.Exp(scores[t] - max);
                for (var t = 0; t < scores.Length; t++)
                    for (var i = 0; i < s.HeadDim; i++)
                        att[hh * s.HeadDim + i] += scores[t] / sum * _values[l][first + t][kvh * s.HeadDim + i];
            }
            var o = MatVec(Matrix(B(GgufTensorNames.AttnOutput)), att);
            if (Vector(B(GgufTensorNames.AttnPostNorm)) is { } pan)
                o = RmsNorm(o, pan, Eps);
            for (var i = 0; i < s.Dim; i++) x[i] += o[i];

            h = RmsNorm(x, Vector(B(GgufTensorNames.FfnNorm))!, Eps);
            double[] gate, up;
            if (_file.TryGetTensor(B(GgufTensorNames.FfnGate), out _))
            {
                gate = MatVec(Matrix(B(GgufTensorNames.FfnGate)), h);
                up = MatVec(Matrix(B(GgufTensorNames.FfnUp)), h);
            }
            else
            {
                var both = MatVec(Matrix(B(GgufTensorNames.FfnUp)), h);
                gate = both[..s.FfnDim];
                up = both[s.FfnDim..];
            }
            var act = new double[s.FfnDim];
            for (var i = 0; i < s.FfnDim; i++)
            {
                var g = gate[i];
                var a = Gemma
                    ? 0.5 * g * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g)))
                    : g / (1 + Math.Exp(-g));
                act[i] = a * up[i];
            }
            var down = MatVec(Matrix(B(GgufTensorNames.FfnDown)), act);
            if (Vector(B(GgufTensorNames.FfnPostNorm)) is { } pfn)
                down = RmsNorm(down, pfn, Eps);
            for (var i = 0; i < s.Dim; i++) x[i] += down[i];
        }
        x = RmsNorm(x, Vector(GgufTensorNames.OutputNorm)!, Eps);
        var output = _file.TryGetTensor(GgufTensorNames.Output, out _) ? GgufTensorNames.Output : GgufTensorNames.TokenEmbedding;
        var logits = MatVec(Matrix(output), x);
        if (Arch == "gemma2")
            logits = Array.ConvertAll(logits, z => 30 * Math.Tanh(z / 30));
        return logits;
    }
}
