using System.Text;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tokenization;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Tokenization;

/// <summary>The SentencePiece tokenizer inside the real stories260K model.</summary>
public sealed class StoriesTokenizerTests
{
    private const string Prompt = "Once upon a time, there was a dog named Max";

    private static Tokenizer? Load()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return null;
        using var file = GgufFile.Open(path);
        return Tokenizer.FromGguf(file);
    }

    [Fact]
    public void FromGguf_Stories_ReadsVocabularyAndSpecialIds()
    {
        var t = Load();
        if (t is null)
            return;
        Assert.Equal(TokenizerKind.SentencePiece, t.Kind);
        Assert.Equal(512, t.VocabSize);
        Assert.Equal(1, t.BosId);
        Assert.Equal(2, t.EosId);
        Assert.Equal(0, t.UnknownId);
        Assert.Equal(-1, t.PaddingId); // stored as uint32 max, meaning "none"
        Assert.True(t.AddBos);
        Assert.False(t.AddEos);
        Assert.Equal("<s>", t.TokenText(1));
        Assert.Equal(TokenType.Byte, t.GetTokenType(3));
    }

    [Fact]
    public void Encode_StoriesPrompt_StartsWithBosAndRoundTrips()
    {
        var t = Load();
        if (t is null)
            return;
        var ids = t.Encode(Prompt);
        Assert.Equal(t.BosId, ids[0]);
        Assert.Equal("▁Once", t.TokenText(ids[1]));
        Assert.Equal("▁upon", t.TokenText(ids[2]));
        Assert.Equal(Prompt, t.Decode(ids));
    }

    [Fact]
    public void StreamingDecode_PromptTokensAfterBos_MatchesLlamaCppEchoInGolden()
    {
        var t = Load();
        var golden = SharedFiles.Path("golden/stories260K.greedy-max-n120.txt");
        if (t is null || golden is null)
            return;
        var ids = t.Encode(Prompt);
        var decoder = t.CreateStreamingDecoder();
        var text = new StringBuilder();
        foreach (var id in ids.AsSpan(1)) // llama.cpp echoes the prompt without the BOS piece, leading space kept
            text.Append(decoder.Push(id));
        text.Append(decoder.Flush());
        Assert.Equal(" " + Prompt, text.ToString());
        Assert.StartsWith(text.ToString(), File.ReadAllText(golden), StringComparison.Ordinal);
    }

    [Fact]
    public void StreamingDecoder_TextRightAfterBos_DropsTheSpacePrefixLikeLlama2c()
    {
        var t = Load();
        if (t is null)
            return;
        var decoder = t.CreateStreamingDecoder();
        var text = new StringBuilder();
        foreach (var id in t.Encode("Once upon a time"))
            text.Append(decoder.Push(id));
        Assert.Equal("Once upon a time", text.ToString());
    }

    [Fact]
    public void Encode_EmojiOutsideVocabulary_FallsBackToItsUtf8ByteTokens()
    {
        var t = Load();
        if (t is null)
            return;
        var ids = t.Encode("😁", addSpecial: false);
        var pieces = new List<string>();
        foreach (var id in ids)
            pieces.Add(t.TokenText(id));
        Assert.Equal(["▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x81>"], pieces);
        Assert.Equal("😁", t.Decode(ids));
    }

    [Fact]
    public void StreamingDecoder_EmojiSplitAcrossByteTokens_EmitsTheWholeCharacterOnce()
    {
        var t = Load();
        if (t is null)
            return;
        var ids = t.Encode("a😁b", addSpecial: false); // ▁a <0xF0> <0x9F> <0x98> <0x81> b
        var decoder = t.CreateStreamingDecoder();
        var outputs = new List<string>();
        foreach (var id in ids)
            outputs.Add(decoder.Push(id));
        Assert.Equal([" a", "", "", "", "😁", "b"], outputs);
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Encode_AddSpecialFalse_HasNoBos()
    {
        var t = Load();
        if (t is null)
            return;
        var with = t.Encode(Prompt);
        var without = t.Encode(Prompt, addSpecial: false);
        Assert.Equal(with.AsSpan(1).ToArray(), without);
    }

    [Fact]
    public void Encode_EosTextWithAndWithoutParseSpecial_OnlyParsedBecomesEos()
    {
        var t = Load();
        if (t is null)
            return;
        var parsed = t.Encode("The end.</s>", addSpecial: false, parseSpecial: true);
        var plain = t.Encode("The end.</s>", addSpecial: false, parseSpecial: false);
        Assert.Equal(t.EosId, parsed[^1]);
        Assert.DoesNotContain(t.EosId, plain);
        Assert.Equal("The end.</s>", t.Decode(plain));
        Assert.Equal("The end.", t.Decode(parsed)); // control tokens decode to nothing
    }

    [Fact]
    public void IsEndOfGeneration_EosAndOrdinaryToken_OnlyEosEnds()
    {
        var t = Load();
        if (t is null)
            return;
        Assert.True(t.IsEndOfGeneration(t.EosId));
        Assert.False(t.IsEndOfGeneration(t.BosId));
        Assert.False(t.IsEndOfGeneration(t.Encode("dog", addSpecial: false)[0]));
    }

    [Fact]
    public void FindSpecial_ControlAndOrdinaryText_FindsOnlyControl()
    {
        var t = Load();
        if (t is null)
            return;
        Assert.Equal(2, t.FindSpecial("</s>"));
        Assert.Null(t.FindSpecial("▁Once"));
        Assert.Null(t.FindSpecial("no such token"));
    }

    [Fact]
    public void Encode_EmptyText_IsJustBos()
    {
        var t = Load();
        if (t is null)
            return;
        Assert.Equal([t.BosId], t.Encode(""));
        Assert.Empty(t.Encode("", addSpecial: false));
    }
}
