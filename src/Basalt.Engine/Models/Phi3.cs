using Basalt.Engine.Gguf;

namespace Basalt.Engine.Models;

/// <summary>Phi-3: fused attn_qkv ([q; k; v] rows) and ffn_up holding [gate; up]; NeoX RoPE; SwiGLU.
/// LongRoPE factor tensors (rope_factors_long/short) are not applied: contexts beyond the original length are refused by the context limit.</summary>
internal sealed class Phi3 : Architecture
{
    public override IReadOnlyList<string> Names { get; } = ["phi3"];

    public override ModelConfig ReadConfig(GgufFile file)
    {
        var c = ModelConfig.ReadCommon(file) with { RopeStyle = RopeStyle.NeoX };
        var original = (int)file.GetUInt32(GgufKeys.ForArch(GgufKeys.RopeScalingOriginalContextLength, file.Architecture), 0);
        return original > 0 ? c with { ContextLength = Math.Min(c.ContextLength, original) } : c;
    }
}
