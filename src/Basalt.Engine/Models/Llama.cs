using Basalt.Engine.Gguf;

namespace Basalt.Engine.Models;

/// <summary>Llama 2 / 3.x (with llama3 rope scaling), TinyLlama, SmolLM2, Mistral: RMSNorm, normal RoPE, GQA, SwiGLU, optionally tied embeddings.</summary>
internal sealed class Llama : Architecture
{
    public override IReadOnlyList<string> Names { get; } = ["llama", "mistral"];

    public override ModelConfig ReadConfig(GgufFile file) => ModelConfig.ReadCommon(file);
}
