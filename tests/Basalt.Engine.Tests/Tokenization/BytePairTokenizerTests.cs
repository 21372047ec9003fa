using Basalt.Engine.Gguf;
using Basalt.Engine.Tokenization;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Tokenization;

/// <summary>Byte-level BPE behaviour on the real GPT-2 vocabulary.</summary>
public sealed class BytePairTokenizerTests
{
    private static Tokenizer? Load(string family)
    {
        var path = SharedFiles.Path($"tokenizer-tests/ggml-vocab-{family}.gguf");
        if (path is null)
            return null;
        using var file = GgufFile.Open(path);
        return Tokenizer.FromGguf(file);
    }

    [Fact]
    public void Encode_EndOfTextParsed_IsOneControlToken()
    {
        var t = Load("gpt-2");
        if (t is null)
            return;
        Assert.Equal([64, 50256, 65], t.Encode("a<|endoftext|>b", addSpecial: false, parseSpecial: true));
        var plain = t.Encode("a<|endoftext|>b", addSpecial: false, parseSpecial: false);
        Assert.DoesNotContain(50256, plain);
        Assert.Equal("a<|endoftext|>b", t.Decode(plain));
    }

    [Theory]
    [InlineData("Hello, y'all! How are you 😁 ?我想在apple工作1314151天～")]
    [InlineData("  leading spaces, tabs\tand\r\nnewlines\n\n")]
    [InlineData("нещо на Български and Cửa Việt")]
    public void Decode_EncodedText_RoundTripsExactly(string text)
    {
        var t = Load("gpt-2");
        if (t is null)
            return;
        Assert.Equal(text, t.Decode(t.Encode(text)));
    }

    [Fact]
    public void StreamingDecoder_EmojiSplitAcrossByteLevelTokens_NeverEmitsHalfACharacter()
    {
        var t = Load("gpt-2");
        if (t is null)
            return;
        var ids = t.Encode(" 😁", addSpecial: false); // "ĠðŁĺ" + "ģ": the emoji's four bytes straddle two tokens
        Assert.Equal(2, ids.Length);
        var decoder = t.CreateStreamingDecoder();
        Assert.Equal(" ", decoder.Push(ids[0]));
        Assert.Equal("😁", decoder.Push(ids[1]));
    }

    [Fact]
    public void StreamingDecoder_FlushWithIncompleteCharacter_EmitsReplacementCharacter()
    {
        var t = Load("gpt-2");
        if (t is null)
            return;
        var ids = t.Encode(" 😁", addSpecial: false);
        var decoder = t.CreateStreamingDecoder();
        decoder.Push(ids[0]);
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void FromGguf_Gpt2_UsesTheNamedPreTokenizerAndEndOfText()
    {
        var t = Load("gpt-2");
        if (t is null)
            return;
        Assert.Equal(TokenizerKind.BytePair, t.Kind);
        Assert.Equal("gpt-2", t.PreTokenizerName);
        Assert.False(t.AddBos);
        Assert.True(t.IsEndOfGeneration(50256));
        Assert.Equal(50256, t.FindSpecial("<|endoftext|>"));
    }

    [Fact]
    public void Encode_WordPieceWithAccentsAndUnknownSymbol_StripsAccentsAndUsesUnk()
    {
        var t = Load("bert-bge");
        if (t is null)
            return;
        var ids = t.Encode("Ñandú 😁");
        Assert.Equal(t.BosId, ids[0]);
        Assert.Equal(t.EosId, ids[^1]);
        Assert.Equal("[CLS]", t.TokenText(ids[0]));
        Assert.Equal("[SEP]", t.TokenText(ids[^1]));
        Assert.Equal(t.UnknownId, ids[^2]);
        Assert.Equal(t.Encode("nandu 😁"), ids);
    }
}
