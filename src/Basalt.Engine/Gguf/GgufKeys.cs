namespace Basalt.Engine.Gguf;

/// <summary>Metadata key names, defined once. Keys containing "{arch}" are per-architecture: resolve them with <see cref="ForArch"/>.</summary>
public static class GgufKeys
{
    /// <summary>Replaces "{arch}" in <paramref name="key"/> with the architecture, e.g. ("{arch}.block_count", "llama") → "llama.block_count".</summary>
    public static string ForArch(string key, string architecture) => key.Replace("{arch}", architecture, StringComparison.Ordinal);

    // general
    /// <summary>Model architecture, e.g. "llama", "qwen2".</summary>
    public const string Architecture = "general.architecture";
    /// <summary>Version of the quantization format.</summary>
    public const string QuantizationVersion = "general.quantization_version";
    /// <summary>Alignment of tensor data (uint32, power of two; default 32).</summary>
    public const string Alignment = "general.alignment";
    /// <summary>Human-readable model name.</summary>
    public const string Name = "general.name";
    /// <summary>Model author.</summary>
    public const string Author = "general.author";
    /// <summary>Model version.</summary>
    public const string ModelVersion = "general.version";
    /// <summary>Model license.</summary>
    public const string License = "general.license";
    /// <summary>Size label, e.g. "7B".</summary>
    public const string SizeLabel = "general.size_label";
    /// <summary>Predominant weight type (llama_ftype).</summary>
    public const string FileType = "general.file_type";

    // architecture hyper-parameters
    /// <summary>Training context length.</summary>
    public const string ContextLength = "{arch}.context_length";
    /// <summary>Model (embedding) width.</summary>
    public const string EmbeddingLength = "{arch}.embedding_length";
    /// <summary>Number of transformer blocks.</summary>
    public const string BlockCount = "{arch}.block_count";
    /// <summary>Hidden width of the feed-forward network.</summary>
    public const string FeedForwardLength = "{arch}.feed_forward_length";
    /// <summary>Vocabulary size when stated by the architecture.</summary>
    public const string VocabSize = "{arch}.vocab_size";
    /// <summary>Attention heads.</summary>
    public const string HeadCount = "{arch}.attention.head_count";
    /// <summary>Key/value heads (grouped-query attention).</summary>
    public const string HeadCountKv = "{arch}.attention.head_count_kv";
    /// <summary>Width of each key head when not embedding/heads.</summary>
    public const string KeyLength = "{arch}.attention.key_length";
    /// <summary>Width of each value head when not embedding/heads.</summary>
    public const string ValueLength = "{arch}.attention.value_length";
    /// <summary>RMS norm epsilon.</summary>
    public const string LayerNormRmsEpsilon = "{arch}.attention.layer_norm_rms_epsilon";
    /// <summary>Layer norm epsilon.</summary>
    public const string LayerNormEpsilon = "{arch}.attention.layer_norm_epsilon";
    /// <summary>Sliding-window size.</summary>
    public const string SlidingWindow = "{arch}.attention.sliding_window";
    /// <summary>Rotary embedding base frequency.</summary>
    public const string RopeFreqBase = "{arch}.rope.freq_base";
    /// <summary>Number of dimensions rotated by RoPE.</summary>
    public const string RopeDimensionCount = "{arch}.rope.dimension_count";
    /// <summary>RoPE scaling type: "none", "linear", "yarn", "llama3".</summary>
    public const string RopeScalingType = "{arch}.rope.scaling.type";
    /// <summary>RoPE scaling factor.</summary>
    public const string RopeScalingFactor = "{arch}.rope.scaling.factor";
    /// <summary>Original context length before RoPE scaling.</summary>
    public const string RopeScalingOriginalContextLength = "{arch}.rope.scaling.original_context_length";
    /// <summary>Whether the model was fine-tuned with RoPE scaling.</summary>
    public const string RopeScalingFinetuned = "{arch}.rope.scaling.finetuned";
    /// <summary>YaRN attention factor.</summary>
    public const string RopeScalingAttnFactor = "{arch}.rope.scaling.attn_factor";
    /// <summary>Logit soft-capping of the final layer.</summary>
    public const string FinalLogitSoftcapping = "{arch}.final_logit_softcapping";
    /// <summary>Logit soft-capping of attention.</summary>
    public const string AttnLogitSoftcapping = "{arch}.attn_logit_softcapping";
    /// <summary>Number of experts (mixture of experts).</summary>
    public const string ExpertCount = "{arch}.expert_count";
    /// <summary>Experts used per token.</summary>
    public const string ExpertUsedCount = "{arch}.expert_used_count";

    // tokenizer
    /// <summary>Tokenizer model: "llama" (SentencePiece), "gpt2" (byte-level BPE), "bert" (WordPiece), ...</summary>
    public const string TokenizerModel = "tokenizer.ggml.model";
    /// <summary>Pre-tokenizer name for BPE vocabularies, e.g. "llama-bpe", "qwen2".</summary>
    public const string TokenizerPre = "tokenizer.ggml.pre";
    /// <summary>Token texts.</summary>
    public const string TokenizerTokens = "tokenizer.ggml.tokens";
    /// <summary>Token scores (SentencePiece).</summary>
    public const string TokenizerScores = "tokenizer.ggml.scores";
    /// <summary>Token types (normal, unknown, control, user-defined, unused, byte).</summary>
    public const string TokenizerTokenType = "tokenizer.ggml.token_type";
    /// <summary>BPE merges, "a b" per entry.</summary>
    public const string TokenizerMerges = "tokenizer.ggml.merges";
    /// <summary>Beginning-of-sequence token id.</summary>
    public const string TokenizerBosId = "tokenizer.ggml.bos_token_id";
    /// <summary>End-of-sequence token id.</summary>
    public const string TokenizerEosId = "tokenizer.ggml.eos_token_id";
    /// <summary>End-of-turn token id.</summary>
    public const string TokenizerEotId = "tokenizer.ggml.eot_token_id";
    /// <summary>End-of-message token id.</summary>
    public const string TokenizerEomId = "tokenizer.ggml.eom_token_id";
    /// <summary>Unknown token id.</summary>
    public const string TokenizerUnknownId = "tokenizer.ggml.unknown_token_id";
    /// <summary>Separator token id.</summary>
    public const string TokenizerSeparatorId = "tokenizer.ggml.seperator_token_id";
    /// <summary>Classification token id (BERT's [CLS]).</summary>
    public const string TokenizerClsId = "tokenizer.ggml.cls_token_id";
    /// <summary>Padding token id.</summary>
    public const string TokenizerPaddingId = "tokenizer.ggml.padding_token_id";
    /// <summary>Whether to prepend BOS.</summary>
    public const string TokenizerAddBos = "tokenizer.ggml.add_bos_token";
    /// <summary>Whether to append EOS.</summary>
    public const string TokenizerAddEos = "tokenizer.ggml.add_eos_token";
    /// <summary>Whether SentencePiece adds a leading space.</summary>
    public const string TokenizerAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
    /// <summary>Whether to strip leading/trailing whitespace of BPE-decoded text.</summary>
    public const string TokenizerRemoveExtraWhitespaces = "tokenizer.ggml.remove_extra_whitespaces";
    /// <summary>Jinja2 chat template.</summary>
    public const string ChatTemplate = "tokenizer.chat_template";
}

/// <summary>Tensor names, defined once. Per-layer names take the block index: <c>GgufTensorNames.Block(3, GgufTensorNames.AttnQ)</c> → "blk.3.attn_q.weight".</summary>
public static class GgufTensorNames
{
    /// <summary>Suffix of weight tensors.</summary>
    public const string Weight = "weight";
    /// <summary>Suffix of bias tensors.</summary>
    public const string Bias = "bias";

    /// <summary>Token embedding table.</summary>
    public const string TokenEmbedding = "token_embd.weight";
    /// <summary>Final norm.</summary>
    public const string OutputNorm = "output_norm.weight";
    /// <summary>Output projection (absent when tied to the embedding).</summary>
    public const string Output = "output.weight";
    /// <summary>Precomputed RoPE frequency factors (llama 3.1).</summary>
    public const string RopeFreqs = "rope_freqs.weight";

    /// <summary>Pre-attention norm.</summary>
    public const string AttnNorm = "attn_norm";
    /// <summary>Query projection.</summary>
    public const string AttnQ = "attn_q";
    /// <summary>Key projection.</summary>
    public const string AttnK = "attn_k";
    /// <summary>Value projection.</summary>
    public const string AttnV = "attn_v";
    /// <summary>Fused query/key/value projection.</summary>
    public const string AttnQkv = "attn_qkv";
    /// <summary>Attention output projection.</summary>
    public const string AttnOutput = "attn_output";
    /// <summary>Per-head query norm (qwen3, gemma).</summary>
    public const string AttnQNorm = "attn_q_norm";
    /// <summary>Per-head key norm.</summary>
    public const string AttnKNorm = "attn_k_norm";
    /// <summary>Norm after attention (gemma2/3).</summary>
    public const string AttnPostNorm = "post_attention_norm";
    /// <summary>Pre-FFN norm.</summary>
    public const string FfnNorm = "ffn_norm";
    /// <summary>FFN gate projection.</summary>
    public const string FfnGate = "ffn_gate";
    /// <summary>FFN up projection.</summary>
    public const string FfnUp = "ffn_up";
    /// <summary>FFN down projection.</summary>
    public const string FfnDown = "ffn_down";
    /// <summary>Norm after the FFN (gemma2/3).</summary>
    public const string FfnPostNorm = "post_ffw_norm";
    /// <summary>MoE router.</summary>
    public const string FfnGateInp = "ffn_gate_inp";
    /// <summary>MoE expert gate projections.</summary>
    public const string FfnGateExps = "ffn_gate_exps";
    /// <summary>MoE expert up projections.</summary>
    public const string FfnUpExps = "ffn_up_exps";
    /// <summary>MoE expert down projections.</summary>
    public const string FfnDownExps = "ffn_down_exps";

    /// <summary>Name of a per-layer tensor: "blk.{layer}.{name}.{suffix}".</summary>
    public static string Block(int layer, string name, string suffix = Weight) => $"blk.{layer}.{name}.{suffix}";
}
