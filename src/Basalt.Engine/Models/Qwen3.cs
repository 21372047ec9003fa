using Basalt.Engine.Gguf;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Models;

/// <summary>Qwen3 (dense): no QKV biases; per-head RMSNorm of queries and keys before RoPE; NeoX RoPE; head dim from key_length.</summary>
internal sealed class Qwen3 : Architecture
{
    public override IReadOnlyList<string> Names { get; } = ["qwen3"];

    public override ModelConfig ReadConfig(GgufFile file) => ModelConfig.ReadCommon(file) with { RopeStyle = RopeStyle.NeoX };

    public override ModelWeights Bind(GgufFile file, ModelConfig c, bool repack = true) => BindStandard(new WeightBinder(file, repack), c, (b, l, layer) =>
    {
        layer.QNorm = b.Vector(N.Block(l, N.AttnQNorm), c.HeadDim);
        layer.KNorm = b.Vector(N.Block(l, N.AttnKNorm), c.HeadDim);
    });
}
