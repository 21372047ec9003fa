namespace Basalt.Engine.Training;

/// <summary>One training sequence. <paramref name="LossMask"/>[i] says whether predicting Tokens[i] from Tokens[..i] counts in the
/// loss; null counts every token but the first (fine-tuning masks the prompt).</summary>
public sealed record TrainingExample(int[] Tokens, bool[]? LossMask = null);

/// <summary>The shape of a llama-architecture model to train: RMSNorm, RoPE (adjacent pairs), grouped-query attention, SwiGLU.</summary>
public sealed record TrainingShape(int Dim, int Layers, int Heads, int KvHeads, int FfnDim, int VocabSize, int ContextLength, bool Tied)
{
    /// <summary>RoPE base frequency.</summary>
    public float RopeBase { get; init; } = 10000f;
    /// <summary>RMSNorm epsilon.</summary>
    public float NormEpsilon { get; init; } = 1e-5f;
    /// <summary>Width of one head.</summary>
    public int HeadDim => Dim / Heads;
    /// <summary>Query projection width.</summary>
    public int QDim => Heads * HeadDim;
    /// <summary>Key (and value) projection width.</summary>
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Basalt's default model: dim 192, 4 layers, 6/2 heads, FFN 512, 4096-token vocabulary, 128 tokens of context, tied
    /// (sized to train in under an hour on two shared cores).</summary>
    public static TrainingShape BasaltTiny { get; } = new(192, 4, 6, 2, 512, 4096, 128, true);
    /// <summary>SmolLM2-135M: dim 576, 30 layers, 9/3 heads, FFN 1536, vocab 49152, tied.</summary>
    public static TrainingShape SmolLm2_135M { get; } = new(576, 30, 9, 3, 1536, 49152, 2048, true);

    /// <summary>Throws a clear error when the dimensions cannot work together.</summary>
    public void Validate()
    {
        if (Dim <= 0 || Layers <= 0 || Heads <= 0 || KvHeads <= 0 || FfnDim <= 0 || VocabSize <= 0 || ContextLength <= 1)
            throw new ArgumentException($"Invalid model shape (dim {Dim}, layers {Layers}, heads {Heads}/{KvHeads}, ffn {FfnDim}, vocab {VocabSize}, context {ContextLength}).");
        if (Dim % Heads != 0 || HeadDim % 2 != 0)
            throw new ArgumentException($"Dim {Dim} must split into {Heads} heads of an even width.");
        if (Heads % KvHeads != 0)
            throw new ArgumentException($"{Heads} query heads are not a multiple of {KvHeads} key/value heads.");
    }
}

/// <summary>Optimisation settings: AdamW with linear warm-up and cosine decay, global gradient-norm clipping, optional LoRA.</summary>
public sealed record TrainingOptions
{
    /// <summary>Peak learning rate, reached at the end of warm-up.</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public float MinLearningRate { get; init; } = 1e-4f;
    /// <summary>Steps of linear warm-up from zero.</summary>
    public int WarmupSteps { get; init; } = 10;
    /// <summary>Steps of the whole run (the cosine reaches <see cref="MinLearningRate"/> here).</summary>
    public int TotalSteps { get; init; } = 100;
    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Maximum tokens of one sequence.</summary>
    public int SequenceLength { get; init; } = 128;
    /// <summary>Decoupled weight decay of the matrices (norm weights are not decayed).</summary>
    public float WeightDecay { get; init; } = 0.1f;
    /// <summary>Global gradient L2 norm above which gradients are scaled down (0 = no clipping).</summary>
    public float GradientClip { get; init; } = 1f;
    /// <summary>AdamW first-moment decay.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>AdamW second-moment decay.</summary>
    public float Beta2 { get; init; } = 0.95f;
    /// <summary>AdamW epsilon.</summary>
    public float Epsilon { get; init; } = 1e-8f;
    /// <summary>Seed of the initialisation (LoRA's A matrices).</summary>
    public int Seed { get; init; } = 1;
    /// <summary>LoRA rank on the attention and FFN projections; 0 trains every parameter.</summary>
    public int LoraRank { get; init; }
    /// <summary>LoRA scale numerator: the update is (alpha / rank) * B * A.</summary>
    public float LoraAlpha { get; init; } = 16f;
    /// <summary>Threads of the worker pool.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Throws a clear error for settings that cannot train.</summary>
    public void Validate()
    {
        if (LearningRate <= 0 || MinLearningRate < 0 || MinLearningRate > LearningRate)
            throw new ArgumentException($"Learning rates must satisfy 0 <= min ({MinLearningRate}) <= peak ({LearningRate}) and peak > 0.");
        if (WarmupSteps < 0 || TotalSteps < 1)
            throw new ArgumentException($"Warm-up steps ({WarmupSteps}) must be >= 0 and total steps ({TotalSteps}) >= 1.");
        if (BatchSize < 1 || SequenceLength < 2)
            throw new ArgumentException($"Batch size ({BatchSize}) must be >= 1 and sequence length ({SequenceLength}) >= 2.");
        if (Beta1 is < 0 or >= 1 || Beta2 is < 0 or >= 1 || Epsilon <= 0 || WeightDecay < 0 || GradientClip < 0)
            throw new ArgumentException("Beta1 and Beta2 must be in [0, 1), epsilon > 0, weight decay and gradient clip >= 0.");
        if (LoraRank < 0 || Threads < 1)
            throw new ArgumentException($"LoRA rank ({LoraRank}) must be >= 0 and threads ({Threads}) >= 1.");
    }
}

/// <summary>What one optimisation step did.</summary>
/// <param name="Step">The step number after this step (1 for the first).</param>
/// <param name="Loss">Mean cross-entropy per counted token of the batch, before the update.</param>
/// <param name="GradientNorm">Global L2 norm of the gradient before clipping.</param>
/// <param name="LearningRate">Learning rate applied.</param>
/// <param name="Tokens">Counted (loss) tokens of the batch.</param>
public readonly record struct StepResult(int Step, double Loss, double GradientNorm, float LearningRate, int Tokens);
