using Basalt.Engine.Gguf;
using Basalt.Engine.Tokenization;

namespace Basalt.Engine.Tests.Tokenization;

/// <summary>Tokenizers built from small hand-written GGUF metadata, so each rule can be seen on its own.</summary>
public sealed class HandBuiltTokenizerTests
{
    private static Tokenizer Build(Func<GgufWriter, GgufWriter> metadata)
    {
        using var file = GgufFile.FromBytes(metadata(new GgufWriter().Add(GgufKeys.Architecture, "llama")).ToArray(), "hand.gguf");
        return Tokenizer.FromGguf(file);
    }

    private static Tokenizer SentencePiece(float abScore, float bcScore) => Build(w => w
        .Add(GgufKeys.TokenizerModel, "llama")
        .Add(GgufKeys.TokenizerTokens, ["<unk>", "<s>", "</s>", "a", "b", "c", "ab", "bc"])
        .Add(GgufKeys.TokenizerScores, [0f, 0f, 0f, -5f, -5f, -5f, abScore, bcScore])
        .Add(GgufKeys.TokenizerTokenType, [2, 3, 3, 1, 1, 1, 1, 1])
        .Add(GgufKeys.TokenizerAddSpacePrefix, false));

    private static Tokenizer BytePair(string[] merges) => Build(w => w
        .Add(GgufKeys.TokenizerModel, "gpt2")
        .Add(GgufKeys.TokenizerPre, "gpt-2")
        .Add(GgufKeys.TokenizerTokens, ["a", "b", "c", "ab", "bc", "<|end|>"])
        .Add(GgufKeys.TokenizerTokenType, [1, 1, 1, 1, 1, 3])
        .Add(GgufKeys.TokenizerMerges, merges));

    [Fact]
    public void Encode_SentencePieceScores_HigherScoringPairMergesFirst()
    {
        Assert.Equal([3, 7], SentencePiece(abScore: -1f, bcScore: -0.5f).Encode("abc", addSpecial: false)); // a + bc
        Assert.Equal([6, 5], SentencePiece(abScore: -0.5f, bcScore: -1f).Encode("abc", addSpecial: false)); // ab + c
    }

    [Fact]
    public void Encode_SentencePieceCharacterWithoutTokenOrByteFallback_BecomesUnknown()
    {
        Assert.Equal([6, 0], SentencePiece(-0.5f, -1f).Encode("abd", addSpecial: false));
    }

    [Fact]
    public void Encode_BytePairMergeRanks_LowerRankMergesFirst()
    {
        Assert.Equal([0, 4], BytePair(["b c", "a b"]).Encode("abc", addSpecial: false));
        Assert.Equal([3, 2], BytePair(["a b", "b c"]).Encode("abc", addSpecial: false));
    }

    [Fact]
    public void IsEndOfGeneration_ControlEndOfTurnText_IsRecognisedWithoutAnId()
    {
        var t = BytePair(["a b"]);
        Assert.Equal(5, t.EndOfTurnId);
        Assert.True(t.IsEndOfGeneration(5));
        Assert.Equal([0, 5, 1], t.Encode("a<|end|>b", addSpecial: false, parseSpecial: true));
    }

    [Fact]
    public void FromGguf_NoTokenizerModel_ThrowsMetadataErrorNamingTheKey()
    {
        var e = Assert.Throws<GgufMetadataException>(() => Build(w => w));
        Assert.Contains(GgufKeys.TokenizerModel, e.Message);
    }

    [Fact]
    public void FromGguf_UnsupportedModel_ThrowsNotSupportedNamingIt()
    {
        var e = Assert.Throws<NotSupportedException>(() => Build(w => w.Add(GgufKeys.TokenizerModel, "rwkv").Add(GgufKeys.TokenizerTokens, ["a"])));
        Assert.Contains("rwkv", e.Message);
    }

    [Fact]
    public void FromGguf_BytePairWithoutMerges_ThrowsMetadataError()
    {
        var e = Assert.Throws<GgufMetadataException>(() => Build(w => w
            .Add(GgufKeys.TokenizerModel, "gpt2").Add(GgufKeys.TokenizerPre, "gpt-2").Add(GgufKeys.TokenizerTokens, ["a"])));
        Assert.Contains(GgufKeys.TokenizerMerges, e.Message);
    }

    [Fact]
    public void FromGguf_ScoresOfAnotherLength_ThrowsMetadataError()
    {
        var e = Assert.Throws<GgufMetadataException>(() => Build(w => w
            .Add(GgufKeys.TokenizerModel, "llama").Add(GgufKeys.TokenizerTokens, ["a", "b"]).Add(GgufKeys.TokenizerScores, [0f])));
        Assert.Contains("scores", e.Message);
    }

    [Fact]
    public void FromGguf_UnknownPreTokenizer_ThrowsNotSupportedListingKnownNames()
    {
        var e = Assert.Throws<NotSupportedException>(() => Build(w => w
            .Add(GgufKeys.TokenizerModel, "gpt2").Add(GgufKeys.TokenizerPre, "martian")
            .Add(GgufKeys.TokenizerTokens, ["a"]).Add(GgufKeys.TokenizerMerges, Array.Empty<string>())));
        Assert.Contains("martian", e.Message);
        Assert.Contains("qwen2", e.Message);
    }

    [Fact]
    public void TokenText_IdOutOfRange_ThrowsArgumentOutOfRange()
    {
        var t = BytePair(["a b"]);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.TokenText(6));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.TokenText(-1));
        Assert.Equal("", t.Decode([6, -1])); // decoding unknown ids yields nothing rather than failing mid-stream
    }

    [Fact]
    public void FromGguf_ChatEndMarkerTypedAsText_BecomesControlAndEndsGeneration()
    {
        var t = Build(w => w
            .Add(GgufKeys.TokenizerModel, "gpt2").Add(GgufKeys.TokenizerPre, "qwen2")
            .Add(GgufKeys.TokenizerTokens, ["a", "b", "<|im_end|>"]).Add(GgufKeys.TokenizerTokenType, [1, 1, 1])
            .Add(GgufKeys.TokenizerMerges, Array.Empty<string>()));
        Assert.Equal(TokenType.Control, t.GetTokenType(2));
        Assert.True(t.IsEndOfGeneration(2));
        Assert.Equal("a", t.Decode([0, 2])); // control tokens are not shown
    }

    [Fact]
    public void IsEndOfGeneration_HarmonyVocabulary_EndMarkerOnlyEndsAMessage()
    {
        var t = Build(w => w
            .Add(GgufKeys.TokenizerModel, "gpt2").Add(GgufKeys.TokenizerPre, "gpt-4o")
            .Add(GgufKeys.TokenizerTokens, ["a", "<|return|>", "<|call|>", "<|end|>", "<|channel|>"])
            .Add(GgufKeys.TokenizerTokenType, [1, 3, 3, 3, 3])
            .Add(GgufKeys.TokenizerMerges, Array.Empty<string>()));
        Assert.True(t.IsEndOfGeneration(1));
        Assert.True(t.IsEndOfGeneration(2));
        Assert.False(t.IsEndOfGeneration(3));
        Assert.Equal("a<|end|><|channel|>", t.Decode([0, 3, 4])); // rendered so the harmony parser can see them
    }

    [Fact]
    public void Encode_Phi3ChatMarkersParsed_SwallowTheWhitespaceAfterThem()
    {
        var t = Build(w => w
            .Add(GgufKeys.Name, "Phi3")
            .Add(GgufKeys.TokenizerModel, "llama")
            .Add(GgufKeys.TokenizerTokens, ["<unk>", "<s>", "</s>", "▁", "H", "i", "▁Hi", "<|user|>", "\n", "▁H"])
            .Add(GgufKeys.TokenizerScores, [0f, 0f, 0f, -1f, -1f, -1f, -0.5f, 0f, -1f, -0.7f])
            .Add(GgufKeys.TokenizerTokenType, [2, 3, 3, 1, 1, 1, 1, 3, 1, 1]));
        Assert.Equal([1, 7, 6], t.Encode("<|user|>\n  Hi", parseSpecial: true));
        Assert.Equal(t.Encode("<|user|>Hi", parseSpecial: true), t.Encode("<|user|>\n  Hi", parseSpecial: true));
    }
}
