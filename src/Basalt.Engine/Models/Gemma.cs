using Basalt.Engine.Gguf;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Models;

/// <summary>Gemma 2 and Gemma 3: embedding scaled by sqrt(dim); norms stored in GGUF as (1 + w) so applied as plain RMSNorm;
/// post-attention and post-FFN norms; GELU-tanh gated FFN; NeoX RoPE; sliding-window local layers.
/// Gemma 2 soft-caps attention scores and final logits and alternates local/global layers; Gemma 3 adds QK norms,
/// five local layers per global one, and a separate RoPE base (10000) for local layers.</summary>
internal sealed class Gemma : Architecture
{
    // Gemma 3's local layers use this RoPE base regardless of the global one (Gemma 3 technical report).
    private const float Gemma3LocalRopeBase = 10000f;
    private const int Gemma2SlidingPattern = 2;
    private const int Gemma3SlidingPattern = 6;

    public override IReadOnlyList<string> Names { get; } = ["gemma2", "gemma3"];

    public override ModelConfig ReadConfig(GgufFile file)
    {
        var arch = file.Architecture;
        string K(string key) => GgufKeys.ForArch(key, arch);
        var c = ModelConfig.ReadCommon(file) with
        {
            RopeStyle = RopeStyle.NeoX,
            Activation = FfnActivation.GeluTanh,
            NormEpsilon = file.GetFloat32(K(GgufKeys.LayerNormRmsEpsilon), 1e-6f),
        };
        c = c with { EmbeddingScale = MathF.Sqrt(c.Dim) };
        var window = (int)file.GetUInt32(K(GgufKeys.SlidingWindow), 0);
        var pattern = arch == "gemma2" ? Gemma2SlidingPattern : Gemma3SlidingPattern;
        var sliding = new bool[c.Layers];
        for (var l = 0; l < c.Layers; l++)
            sliding[l] = window > 0 && (l + 1) % pattern != 0;
        c = c with { SlidingWindow = window, SlidingLayers = window > 0 ? sliding : null };
        // The 27B models scale queries by 1/sqrt(dim / heads) instead of 1/sqrt(head dim) (query_pre_attn_scalar).
        if (c.Layers is 46 or 62 && c.Dim / c.Heads != c.HeadDim)
            c = c with { AttentionScale = 1f / MathF.Sqrt((float)c.Dim / c.Heads) };
        if (arch == "gemma2")
            return c with
            {
                AttentionSoftcap = file.GetFloat32(K(GgufKeys.AttnLogitSoftcapping), 50f),
                FinalLogitSoftcap = file.GetFloat32(K(GgufKeys.FinalLogitSoftcapping), 30f),
            };
        return c with { RopeBaseLocal = Gemma3LocalRopeBase };
    }

    protected override void Extras(WeightBinder b, ModelConfig c, int l, LayerBuilder layer)
    {
        layer.PostAttnNorm = b.Vector(N.Block(l, N.AttnPostNorm), c.Dim);
        layer.PostFfnNorm = b.Vector(N.Block(l, N.FfnPostNorm), c.Dim);
        layer.QNorm = b.OptionalVector(N.Block(l, N.AttnQNorm), c.HeadDim);
        layer.KNorm = b.OptionalVector(N.Block(l, N.AttnKNorm), c.HeadDim);
    }
}
