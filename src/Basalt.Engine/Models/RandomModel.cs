using Basalt.Engine.Gguf;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Models;

/// <summary>The shape of a model to synthesise: real architectures' dimensions with random weights, for tests and benchmarks.</summary>
internal sealed record ModelShape(
    string Architecture, int Dim, int Layers, int Heads, int KvHeads, int HeadDim, int FfnDim, int VocabSize, bool Tied, int ContextLength = 2048)
{
    /// <summary>SmolLM2-135M: dim 576, 30 layers, 9/3 heads, FFN 1536, vocab 49152, tied.</summary>
    public static ModelShape SmolLm2_135M { get; } = new("llama", 576, 30, 9, 3, 64, 1536, 49152, true);

    /// <summary>Llama-3.2-1B's body (dim 2048, 16 layers, 32/8 heads, FFN 8192) with a 49152-token vocabulary, tied.</summary>
    public static ModelShape Llama_1B { get; } = new("llama", 2048, 16, 32, 8, 64, 8192, 49152, true);

    /// <summary>The named shapes `basalt bench --make-model` accepts.</summary>
    public static ModelShape? Named(string name) => name switch
    {
        "smollm2-135m" => SmolLm2_135M,
        "llama-1b" => Llama_1B,
        _ => null,
    };
}

/// <summary>Writes GGUF files with seeded random weights and a synthetic SentencePiece vocabulary (special tokens, the 256 byte
/// tokens, then made-up words), so every tokenizer and forward path can run on them.</summary>
internal static class RandomModel
{
    /// <summary>Tensor type per tensor name: llama.cpp's presets ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q5_0", "Q4_K_M", "Q5_K_M", ...).</summary>
    public static Func<string, GgmlType> TypePolicy(string preset, ModelShape shape) => preset.ToUpperInvariant() switch
    {
        "F32" => _ => GgmlType.F32,
        "F16" => _ => GgmlType.F16,
        "BF16" => _ => GgmlType.BF16,
        "Q8_0" => _ => GgmlType.Q8_0,
        "Q4_0" => _ => GgmlType.Q4_0,
        "Q5_0" => _ => GgmlType.Q5_0,
        "Q5_1" => _ => GgmlType.Q5_1,
        "Q4_K" => _ => GgmlType.Q4_K,
        "Q5_K" => _ => GgmlType.Q5_K,
        "Q6_K" => _ => GgmlType.Q6_K,
        "Q4_K_M" => name => KQuantMix(name, shape, GgmlType.Q4_K),
        "Q5_K_M" => name => KQuantMix(name, shape, GgmlType.Q5_K),
        _ => throw new ArgumentException($"Unknown type preset '{preset}'; use F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q4_K_M or Q5_K_M."),
    };

    // llama.cpp's Q4_K_M / Q5_K_M: Q6_K for the output projection (the embedding when tied) and for attn_v / ffn_down in the first and
    // last eighth of the layers and every third layer between; the base K-quant elsewhere. Rows that are not a multiple of 256 fall back
    // per FitRow, as llama.cpp's quantizer does.
    private static GgmlType KQuantMix(string name, ModelShape shape, GgmlType baseType)
    {
        if (name == N.Output || (shape.Tied && name == N.TokenEmbedding))
            return GgmlType.Q6_K;
        if (name.Contains("." + N.AttnV + ".", StringComparison.Ordinal) || name.Contains("." + N.FfnDown + ".", StringComparison.Ordinal))
        {
            var layer = int.Parse(name.AsSpan(4, name.IndexOf('.', 4) - 4), System.Globalization.CultureInfo.InvariantCulture);
            var n = shape.Layers;
            var moreBits = layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
            return moreBits ? GgmlType.Q6_K : baseType;
        }
        return baseType;
    }

    /// <summary>Writes the model to <paramref name="path"/>. Norm and bias vectors are always F32, as llama.cpp stores them.</summary>
    public static void Write(string path, ModelShape s, Func<string, GgmlType> typeOf, ulong seed)
    {
        var w = new GgufWriter();
        var arch = s.Architecture;
        string K(string key) => GgufKeys.ForArch(key, arch);
        w.Add(GgufKeys.Architecture, arch);
        w.Add(GgufKeys.Name, $"random {arch} {s.Dim}x{s.Layers}");
        w.Add(K(GgufKeys.ContextLength), (uint)s.ContextLength);
        w.Add(K(GgufKeys.EmbeddingLength), (uint)s.Dim);
        w.Add(K(GgufKeys.BlockCount), (uint)s.Layers);
        w.Add(K(GgufKeys.FeedForwardLength), (uint)s.FfnDim);
        w.Add(K(GgufKeys.HeadCount), (uint)s.Heads);
        w.Add(K(GgufKeys.HeadCountKv), (uint)s.KvHeads);
        w.Add(K(GgufKeys.KeyLength), (uint)s.HeadDim);
        w.Add(K(GgufKeys.ValueLength), (uint)s.HeadDim);
        w.Add(K(GgufKeys.RopeDimensionCount), (uint)s.HeadDim);
        w.Add(K(GgufKeys.LayerNormRmsEpsilon), 1e-5f);
        w.Add(K(GgufKeys.RopeFreqBase), 10000f);
        if (arch == "gemma2")
        {
            w.Add(K(GgufKeys.AttnLogitSoftcapping), 50f);
            w.Add(K(GgufKeys.FinalLogitSoftcapping), 30f);
            w.Add(K(GgufKeys.SlidingWindow), 4u);
        }
        AddVocabulary(w, s.VocabSize);

        var rng = new Generation.Rng(seed);
        var qkvFused = arch == "phi3";
        var gateUpFused = arch == "phi3";
        void Matrix(string name, int cols, int rows)
        {
            var values = new float[(long)cols * rows];
            // Uniform with variance 1/cols keeps activations near unit scale through the layers.
            var scale = (float)Math.Sqrt(3.0 / cols);
            Fill(values, ref rng, -scale, scale);
            w.AddTensor(name, FitRow(typeOf(name), cols), [cols, rows], values);
        }
        void Vector(string name, int length, float center, float spread)
        {
            var values = new float[length];
            Fill(values, ref rng, center - spread, center + spread);
            w.AddTensor(name, GgmlType.F32, [length], values);
        }

        Matrix(N.TokenEmbedding, s.Dim, s.VocabSize);
        var qDim = s.Heads * s.HeadDim;
        var kvDim = s.KvHeads * s.HeadDim;
        for (var l = 0; l < s.Layers; l++)
        {
            Vector(N.Block(l, N.AttnNorm), s.Dim, 1f, 0.2f);
            if (qkvFused)
                Matrix(N.Block(l, N.AttnQkv), s.Dim, qDim + 2 * kvDim);
            else
            {
                Matrix(N.Block(l, N.AttnQ), s.Dim, qDim);
                Matrix(N.Block(l, N.AttnK), s.Dim, kvDim);
                Matrix(N.Block(l, N.AttnV), s.Dim, kvDim);
            }
            if (arch == "qwen2")
            {
                Vector(N.Block(l, N.AttnQ, N.Bias), qDim, 0f, 0.5f);
                Vector(N.Block(l, N.AttnK, N.Bias), kvDim, 0f, 0.5f);
                Vector(N.Block(l, N.AttnV, N.Bias), kvDim, 0f, 0.5f);
            }
            if (arch is "qwen3" or "gemma3")
            {
                Vector(N.Block(l, N.AttnQNorm), s.HeadDim, 1f, 0.2f);
                Vector(N.Block(l, N.AttnKNorm), s.HeadDim, 1f, 0.2f);
            }
            Matrix(N.Block(l, N.AttnOutput), qDim, s.Dim);
            if (arch is "gemma2" or "gemma3")
            {
                Vector(N.Block(l, N.AttnPostNorm), s.Dim, 1f, 0.2f);
                Vector(N.Block(l, N.FfnPostNorm), s.Dim, 1f, 0.2f);
            }
            Vector(N.Block(l, N.FfnNorm), s.Dim, 1f, 0.2f);
            if (gateUpFused)
                Matrix(N.Block(l, N.FfnUp), s.Dim, 2 * s.FfnDim);
            else
            {
                Matrix(N.Block(l, N.FfnGate), s.Dim, s.FfnDim);
                Matrix(N.Block(l, N.FfnUp), s.Dim, s.FfnDim);
            }
            Matrix(N.Block(l, N.FfnDown), s.FfnDim, s.Dim);
        }
        Vector(N.OutputNorm, s.Dim, 1f, 0.2f);
        if (!s.Tied)
            Matrix(N.Output, s.Dim, s.VocabSize);
        w.WriteTo(path);
    }

    /// <summary>The type actually written for rows of <paramref name="cols"/> values: K-quants need multiples of 256, so narrower rows
    /// fall back as llama.cpp's quantizer does: Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0.</summary>
    public static GgmlType FitRow(GgmlType type, int cols) =>
        cols % GgmlTypes.BlockSize(type) == 0 ? type : type switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => throw new ArgumentException($"{type} rows need a multiple of {GgmlTypes.BlockSize(type)} values; this shape has rows of {cols}."),
        };

    private static void Fill(Span<float> values, ref Generation.Rng rng, float low, float high)
    {
        var range = high - low;
        for (var i = 0; i < values.Length; i++)
            values[i] = low + range * (float)rng.NextDouble();
    }

    /// <summary>Ids of the synthetic vocabulary's special tokens.</summary>
    public const int UnknownId = 0, BosId = 1, EosId = 2, FirstByteToken = 3;

    private static void AddVocabulary(GgufWriter w, int vocabSize)
    {
        const int Specials = 3, Bytes = 256;
        if (vocabSize < Specials + Bytes + 1)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"A synthetic vocabulary needs at least {Specials + Bytes + 1} tokens.");
        var tokens = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new int[vocabSize];
        tokens[UnknownId] = "<unk>"; types[UnknownId] = 2;
        tokens[BosId] = "<s>"; types[BosId] = 3;
        tokens[EosId] = "</s>"; types[EosId] = 3;
        for (var b = 0; b < Bytes; b++)
        {
            tokens[FirstByteToken + b] = $"<0x{b:X2}>";
            types[FirstByteToken + b] = 6;
        }
        // Words: single letters and space-prefixed letter strings, distinct by construction (base-26 numbering).
        const string Letters = "etaoinshrdlucmfwypvbgkqjxz";
        for (var i = Specials + Bytes; i < vocabSize; i++)
        {
            var k = i - Specials - Bytes;
            var word = new System.Text.StringBuilder(k < 26 ? "" : "\u2581");
            var n = k < 26 ? k : k - 26;
            do
            {
                word.Append(Letters[n % 26]);
                n = n / 26 - 1;
            }
            while (n >= 0);
            tokens[i] = word.ToString();
            scores[i] = -word.Length - k * 1e-6f;
            types[i] = 1;
        }
        w.Add(GgufKeys.TokenizerModel, "llama");
        w.Add(GgufKeys.TokenizerTokens, tokens);
        w.Add(GgufKeys.TokenizerScores, scores);
        w.Add(GgufKeys.TokenizerTokenType, types);
        w.Add(GgufKeys.TokenizerBosId, (uint)BosId);
        w.Add(GgufKeys.TokenizerEosId, (uint)EosId);
        w.Add(GgufKeys.TokenizerUnknownId, (uint)UnknownId);
        w.Add(GgufKeys.TokenizerAddBos, true);
        w.Add(GgufKeys.TokenizerAddEos, false);
    }
}
