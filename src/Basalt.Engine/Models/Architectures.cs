using Basalt.Engine.Gguf;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Models;

/// <summary>One model architecture: how to read its hyper-parameters and bind its tensors. One file per architecture.</summary>
internal abstract class Architecture
{
    /// <summary>general.architecture values this file handles.</summary>
    public abstract IReadOnlyList<string> Names { get; }

    public abstract ModelConfig ReadConfig(GgufFile file);

    /// <summary>The model's tensors; with <paramref name="repack"/>, Q8_0 matrices are repacked into octets where they can be.</summary>
    public ModelWeights Bind(GgufFile file, ModelConfig c, bool repack = true) => BindStandard(new WeightBinder(file, repack), c);

    /// <summary>Adds this architecture's tensors beyond the llama-shaped ones to layer <paramref name="l"/> being built (none here).</summary>
    protected virtual void Extras(WeightBinder b, ModelConfig c, int l, LayerBuilder layer) { }

    private static readonly Architecture[] All = [new Llama(), new Qwen2(), new Qwen3(), new Phi3(), new Gemma()];

    /// <summary>The architecture named in the file, or a clear error listing the supported ones.</summary>
    public static Architecture For(GgufFile file)
    {
        var name = file.Architecture;
        foreach (var a in All)
            foreach (var n in a.Names)
                if (n == name)
                    return a;
        var supported = new List<string>();
        foreach (var a in All)
            supported.AddRange(a.Names);
        throw new GgufFormatException(file.Name, $"architecture '{name}' is not supported by the local engine (supported: {string.Join(", ", supported)})");
    }

    /// <summary>Binds the llama-shaped tensors every architecture here shares; <see cref="Extras"/> adds the rest.</summary>
    private ModelWeights BindStandard(WeightBinder b, ModelConfig c)
    {
        using var binding = b; // frees the native copies made so far when binding throws; the weights returned below take them otherwise
        var embedding = b.Matrix(N.TokenEmbedding, c.Dim, c.VocabSize);
        var layers = new LayerWeights[c.Layers];
        for (var l = 0; l < c.Layers; l++)
        {
            var builder = new LayerBuilder
            {
                AttnNorm = b.Vector(N.Block(l, N.AttnNorm), c.Dim),
                FfnNorm = b.Vector(N.Block(l, N.FfnNorm), c.Dim),
                Output = b.Matrix(N.Block(l, N.AttnOutput), c.Heads * c.ValueHeadDim, c.Dim),
                Down = b.Matrix(N.Block(l, N.FfnDown), c.FfnDim, c.Dim),
            };
            if (b.File.TryGetTensor(N.Block(l, N.AttnQkv), out _))
                builder.Qkv = b.Matrix(N.Block(l, N.AttnQkv), c.Dim, c.QDim + c.KDim + c.VDim);
            else
            {
                builder.Q = b.Matrix(N.Block(l, N.AttnQ), c.Dim, c.QDim);
                builder.K = b.Matrix(N.Block(l, N.AttnK), c.Dim, c.KDim);
                builder.V = b.Matrix(N.Block(l, N.AttnV), c.Dim, c.VDim);
            }
            if (b.File.TryGetTensor(N.Block(l, N.FfnGate), out _))
            {
                builder.Gate = b.Matrix(N.Block(l, N.FfnGate), c.Dim, c.FfnDim);
                builder.Up = b.Matrix(N.Block(l, N.FfnUp), c.Dim, c.FfnDim);
            }
            else
            {
                builder.Up = b.Matrix(N.Block(l, N.FfnUp), c.Dim, 2 * c.FfnDim, splitAt: c.FfnDim);
                builder.FusedGateUp = true;
            }
            Extras(b, c, l, builder);
            layers[l] = builder.Build();
        }
        var outputNorm = b.Vector(N.OutputNorm, c.Dim);
        // Tied embeddings: without output.weight the embedding table doubles as the output projection.
        var output = b.OptionalMatrix(N.Output, c.Dim, c.VocabSize) ?? embedding;
        var freqFactors = b.OptionalVector(N.RopeFreqs, c.RopeDim / 2);
        return new ModelWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            OutputNorm = outputNorm,
            Output = output,
            RopeFreqFactors = freqFactors,
            Bytes = b.Bytes,
            Repacked = b.TakeStore(),
        };
    }

    /// <summary>Mutable collector for one layer's tensors.</summary>
    protected sealed class LayerBuilder
    {
        public float[] AttnNorm = [];
        public float[] FfnNorm = [];
        public WeightMatrix Q, K, V, Output, Gate, Up, Down;
        public WeightMatrix? Qkv;
        public bool FusedGateUp;
        public float[]? QBias, KBias, VBias, QNorm, KNorm, PostAttnNorm, PostFfnNorm;

        public LayerWeights Build() => new()
        {
            AttnNorm = AttnNorm, FfnNorm = FfnNorm, Q = Q, K = K, V = V, Qkv = Qkv, Output = Output,
            Gate = Gate, Up = Up, FusedGateUp = FusedGateUp, Down = Down,
            QBias = QBias, KBias = KBias, VBias = VBias, QNorm = QNorm, KNorm = KNorm,
            PostAttnNorm = PostAttnNorm, PostFfnNorm = PostFfnNorm,
        };
    }
}
