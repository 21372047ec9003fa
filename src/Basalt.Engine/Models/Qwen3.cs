using Basalt.Engine.Gguf;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Models;

/// <summary>Qwen3 (dense): no QKV biases; per-head RMSNorm of queries and keys before RoPE; NeoX RoPE; head dim from key_length.</summary>
internal sealed class Qwen3 : Architecture
{
    public override IReadOnlyList<string> Names { get; } = ["qwen3"];

    public override ModelConfig ReadConfig(GgufFile file) => ModelConfig.ReadCommon(file) with { RopeStyle = RopeStyle.NeoX };

    protected override void Extras(WeightBinder b, ModelConfig c, int l, LayerBuilder layer)
    {
        layer.QNorm = b.Vector(N.Block(l, N.AttnQNorm), c.HeadDim);
        layer.KNorm = b.Vector(N.Block(l, N.AttnKNorm), c.HeadDim);
    }
}
