using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Models;

/// <summary>The building blocks the architectures share: norms, rotary embeddings, activations, softmax.</summary>
internal static class Blocks
{
    /// <summary>out = x / rms(x) * weight.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output, float epsilon)
    {
        var ss = FloatKernels.DotF32(x, x);
        var scale = 1f / MathF.Sqrt(ss / x.Length + epsilon);
        var i = 0;
        if (Vector256.IsHardwareAccelerated && weight.Length >= x.Length && output.Length >= x.Length)
        {
            // The same two products per element as the scalar loop, so the same bits.
            var vs = Vector256.Create(scale);
            ref var px = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            ref var pw = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(weight);
            ref var po = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(output);
            for (; i <= x.Length - 8; i += 8)
                (Vector256.LoadUnsafe(ref px, (nuint)i) * vs * Vector256.LoadUnsafe(ref pw, (nuint)i)).StoreUnsafe(ref po, (nuint)i);
        }
        for (; i < x.Length; i++)
            output[i] = x[i] * scale * weight[i];
    }

    /// <summary>Inverse frequencies of each rotated pair, with llama3 scaling or per-pair factors folded in.</summary>
    public static float[] RopeInverseFrequencies(ModelConfig c, float ropeBase, float[]? freqFactors)
    {
        var pairs = c.RopeDim / 2;
        var inv = new float[pairs];
        for (var i = 0; i < pairs; i++)
        {
            var freq = Math.Pow(ropeBase, -2.0 * i / c.RopeDim);
            if (freqFactors is not null)
                freq /= freqFactors[i];
            else if (c.Llama3Rope is { } l3)
                freq /= l3.Divisor(freq);
            inv[i] = (float)freq;
        }
        return inv;
    }

    /// <summary>Fills the cos/sin table of position <paramref name="position"/>.</summary>
    public static void RopeTable(ReadOnlySpan<float> inverseFrequencies, float position, Span<float> cos, Span<float> sin)
    {
        for (var i = 0; i < inverseFrequencies.Length; i++)
        {
            var (s, co) = MathF.SinCos(position * inverseFrequencies[i]);
            cos[i] = co;
            sin[i] = s;
        }
    }

    /// <summary>Rotates the first RopeDim dimensions of each head in <paramref name="vec"/>.</summary>
    public static void Rope(Span<float> vec, int heads, int headDim, RopeStyle style, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        var pairs = cos.Length;
        if (sin.Length < pairs || 2 * pairs > headDim || vec.Length < heads * headDim)
            throw new ArgumentException($"{heads} heads of {headDim} with {pairs} rotated pairs do not fit {vec.Length} values and {sin.Length} sines.");
        for (var h = 0; h < heads; h++)
        {
            var head = vec.Slice(h * headDim, headDim);
            // Vectors of 4 pairs with the scalar loop's products and sums (a sum's operands swapped at most), so the same bits.
            var i = Avx2.IsSupported ? RopeVectors(head, style, cos, sin) : 0;
            if (style == RopeStyle.Normal)
                for (; i < pairs; i++)
                {
                    float a = head[2 * i], b = head[2 * i + 1];
                    head[2 * i] = a * cos[i] - b * sin[i];
                    head[2 * i + 1] = a * sin[i] + b * cos[i];
                }
            else
                for (; i < pairs; i++)
                {
                    float a = head[i], b = head[i + pairs];
                    head[i] = a * cos[i] - b * sin[i];
                    head[i + pairs] = a * sin[i] + b * cos[i];
                }
        }
    }

    // The pairs [0, 4k) of one head in vectors; returns 4k.
    private static int RopeVectors(Span<float> head, RopeStyle style, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        var pairs = cos.Length;
        ref var ph = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(head);
        ref var pc = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(cos);
        ref var ps = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(sin);
        var i = 0;
        if (style == RopeStyle.Normal)
        {
            // Interleaved pairs (a0 b0 a1 b1 ...): each cos/sin of 4 pairs twice, the pairs swapped, the sines negated on even lanes:
            // even lanes a cos + b (-sin) = a cos - b sin, odd lanes b cos + a sin.
            var twice = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
            var signs = Vector256.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
            for (; i <= pairs - 4; i += 4)
            {
                var c = Avx2.PermuteVar8x32(Vector128.LoadUnsafe(ref pc, (nuint)i).ToVector256Unsafe(), twice);
                var s = Avx2.PermuteVar8x32(Vector128.LoadUnsafe(ref ps, (nuint)i).ToVector256Unsafe(), twice) * signs;
                var v = Vector256.LoadUnsafe(ref ph, (nuint)(2 * i));
                var swapped = Avx.Permute(v, 0b10_11_00_01);
                (v * c + swapped * s).StoreUnsafe(ref ph, (nuint)(2 * i));
            }
            return i;
        }
        for (; i <= pairs - 8; i += 8)
        {
            var c = Vector256.LoadUnsafe(ref pc, (nuint)i);
            var s = Vector256.LoadUnsafe(ref ps, (nuint)i);
            var a = Vector256.LoadUnsafe(ref ph, (nuint)i);
            var b = Vector256.LoadUnsafe(ref ph, (nuint)(i + pairs));
            (a * c - b * s).StoreUnsafe(ref ph, (nuint)i);
            (a * s + b * c).StoreUnsafe(ref ph, (nuint)(i + pairs));
        }
        return i;
    }

    /// <summary>In-place softmax.</summary>
    public static void Softmax(Span<float> x)
    {
        var max = float.NegativeInfinity;
        foreach (var v in x)
            max = MathF.Max(max, v);
        var sum = 0f;
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = MathF.Exp(x[i] - max);
            sum += x[i];
        }
        var inv = 1f / sum;
        for (var i = 0; i < x.Length; i++)
            x[i] *= inv;
    }

    /// <summary>gate = act(gate) * up.</summary>
    public static void GatedActivation(Span<float> gate, ReadOnlySpan<float> up, FfnActivation activation)
    {
        if (up.Length < gate.Length)
            throw new ArgumentException($"up holds {up.Length} values for {gate.Length} gate values.", nameof(up));
        if (activation != FfnActivation.Silu)
        {
            for (var i = 0; i < gate.Length; i++)
                gate[i] = GeluTanh(gate[i]) * up[i];
            return;
        }
        var j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // SiLU through e = exp(-|g|) (a non-positive argument, the attention's float exp): g / (1 + e) for g >= 0, and
            // g e / (1 + e) for g < 0 (the same value as g / (1 + exp(-g)) without overflow). The scalar MathF.Exp was 5-7% of a
            // 135M prompt pass on the calling thread alone (Stopwatch split, s-step in bench/ENGINE.md).
            ref var pg = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(gate);
            ref var pu = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(up);
            for (; j <= gate.Length - 8; j += 8)
            {
                var g = Vector256.LoadUnsafe(ref pg, (nuint)j);
                var e = AttentionKernels.ExpNonPositive(-Vector256.Abs(g));
                var numerator = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(g, Vector256<float>.Zero), g, g * e);
                (numerator / (Vector256<float>.One + e) * Vector256.LoadUnsafe(ref pu, (nuint)j)).StoreUnsafe(ref pg, (nuint)j);
            }
        }
        for (; j < gate.Length; j++)
            gate[j] = Silu(gate[j]) * up[j];
    }

    /// <summary>x / (1 + e^-x), the reference of the vector SiLU.</summary>
    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    /// <summary>GELU, tanh approximation.</summary>
    public static float GeluTanh(float x) => 0.5f * x * (1f + MathF.Tanh(0.7978845608f * (x + 0.044715f * x * x * x)));

    /// <summary>cap * tanh(x / cap) over a span.</summary>
    public static void Softcap(Span<float> x, float cap)
    {
        var inv = 1f / cap;
        for (var i = 0; i < x.Length; i++)
            x[i] = cap * MathF.Tanh(x[i] * inv);
    }

    /// <summary>y += x.</summary>
    public static void Add(Span<float> y, ReadOnlySpan<float> x)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= y.Length - 8; i += 8)
                (Vector256.Create(y.Slice(i, 8)) + Vector256.Create(x.Slice(i, 8))).CopyTo(y[i..]);
        for (; i < y.Length; i++)
            y[i] += x[i];
    }

    /// <summary>y = a * x + y for one row.</summary>
    public static void AxpY(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i <= y.Length - 8; i += 8)
                Vector256.FusedMultiplyAdd(va, Vector256.Create(x.Slice(i, 8)), Vector256.Create(y.Slice(i, 8))).CopyTo(y[i..]);
        }
        for (; i < y.Length; i++)
            y[i] += a * x[i];
    }
}
