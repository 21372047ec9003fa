using Basalt.Engine.Gguf;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Models;

/// <summary>Qwen2 / Qwen2.5: llama with biases on the Q, K and V projections and NeoX-style RoPE.</summary>
internal sealed class Qwen2 : Architecture
{
    public override IReadOnlyList<string> Names { get; } = ["qwen2"];

    public override ModelConfig ReadConfig(GgufFile file) => ModelConfig.ReadCommon(file) with { RopeStyle = RopeStyle.NeoX };

    protected override void Extras(WeightBinder b, ModelConfig c, int l, LayerBuilder layer)
    {
        layer.QBias = b.Vector(N.Block(l, N.AttnQ, N.Bias), c.QDim);
        layer.KBias = b.Vector(N.Block(l, N.AttnK, N.Bias), c.KDim);
        layer.VBias = b.Vector(N.Block(l, N.AttnV, N.Bias), c.VDim);
    }
}
