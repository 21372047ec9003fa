using System.Text;
using Basalt.Engine.Generation;
using Basalt.Engine.Models;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Generation;

public sealed class GeneratorTests
{
    private static readonly GenerationOptions Greedy = new() { Temperature = 0 };

    private static LanguageModel? Stories()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        return path is null ? null : LanguageModel.Load(path, new ModelLoadOptions { Threads = 2 });
    }

    [Fact]
    public void Generate_Stories260KFromBos_ReproducesLlama2cGoldenText()
    {
        using var model = Stories();
        if (model is null)
            return;
        var golden = File.ReadAllText(SharedFiles.Path("golden/stories260K.greedy-bos-n200.txt")!);
        var result = model.CreateGenerator().Generate([model.Tokenizer.BosId], Greedy with { MaxTokens = 200 });
        Assert.Equal(golden, result.Text);
        Assert.Equal(200, result.GeneratedTokens);
        Assert.Equal(FinishReason.MaxTokens, result.FinishReason);
    }

    [Fact]
    public void Generate_Stories260KWithPrompt_ReproducesLlamaCppGoldenText()
    {
        using var model = Stories();
        if (model is null)
            return;
        const string Prompt = "Once upon a time, there was a dog named Max";
        var golden = File.ReadAllText(SharedFiles.Path("golden/stories260K.greedy-max-n120.txt")!);
        var ids = model.Tokenizer.Encode(Prompt);
        Assert.Equal(model.Tokenizer.BosId, ids[0]);
        var result = model.CreateGenerator().Generate(ids, Greedy with { MaxTokens = 120 });
        // The golden file holds llama.cpp's echo of the prompt (with the tokenizer's leading space), the continuation, and the two
        // newlines llama.cpp's console prints when generation ends.
        Assert.StartsWith(" " + Prompt, golden);
        Assert.EndsWith("\n\n", golden);
        Assert.Equal(golden[(Prompt.Length + 1)..^2], result.Text);
        Assert.Equal(120, result.GeneratedTokens);
    }

    [Fact]
    public void Generate_Streaming_PiecesConcatenateToTheResultText()
    {
        using var model = Stories();
        if (model is null)
            return;
        var streamed = new StringBuilder();
        var calls = 0;
        var result = model.CreateGenerator().Generate([model.Tokenizer.BosId], Greedy with { MaxTokens = 50 }, t =>
        {
            calls++;
            streamed.Append(t.Text);
            return true;
        });
        Assert.Equal(result.Text, streamed.ToString());
        Assert.InRange(calls, 50, 51);
    }

    [Fact]
    public void Generate_StopSequence_CutsTheTextBeforeItAndNeverStreamsIt()
    {
        using var model = Stories();
        if (model is null)
            return;
        var streamed = new StringBuilder();
        // The greedy story reads "...a little girl named Lily. She loved..."
        var result = model.CreateGenerator().Generate([model.Tokenizer.BosId], Greedy with { MaxTokens = 200, StopSequences = ["named Li", "zzz"] },
            t => { streamed.Append(t.Text); return true; });
        Assert.Equal(FinishReason.StopSequence, result.FinishReason);
        Assert.Equal("named Li", result.MatchedStopSequence);
        Assert.Equal("Once upon a time, there was a little girl ", result.Text);
        Assert.Equal(result.Text, streamed.ToString());
    }

    [Fact]
    public void Generate_CallbackReturnsFalse_StopsAsCancelled()
    {
        using var model = Stories();
        if (model is null)
            return;
        var seen = 0;
        var result = model.CreateGenerator().Generate([model.Tokenizer.BosId], Greedy with { MaxTokens = 100 }, _ => ++seen < 5);
        Assert.Equal(FinishReason.Cancelled, result.FinishReason);
        Assert.Equal(5, result.GeneratedTokens);
    }

    [Fact]
    public void Generate_CancelledToken_StopsAsCancelled()
    {
        using var model = Stories();
        if (model is null)
            return;
        using var cts = new CancellationTokenSource();
        var result = model.CreateGenerator().Generate([model.Tokenizer.BosId], Greedy with { MaxTokens = 100 }, t =>
        {
            cts.Cancel();
            return true;
        }, cts.Token);
        Assert.Equal(FinishReason.Cancelled, result.FinishReason);
        Assert.Equal(1, result.GeneratedTokens);
    }

    [Fact]
    public void Generate_PromptLongerThanContext_ThrowsContextOverflowNamingBothSizes()
    {
        using var model = Stories();
        if (model is null)
            return;
        var generator = model.CreateGenerator(contextLength: 8);
        var e = Assert.Throws<ContextOverflowException>(() => generator.Generate(new int[9], Greedy));
        Assert.Contains("9 tokens", e.Message);
        Assert.Contains("8", e.Message);
    }

    [Fact]
    public void Generate_ContextFills_StopsWithMaxTokens()
    {
        using var model = Stories();
        if (model is null)
            return;
        var result = model.CreateGenerator(contextLength: 10).Generate([model.Tokenizer.BosId], Greedy with { MaxTokens = 100 });
        Assert.Equal(FinishReason.MaxTokens, result.FinishReason);
        Assert.Equal(9, result.GeneratedTokens);
    }

    [Fact]
    public void Generate_SameSeed_SameTextAndDifferentSeed_DifferentText()
    {
        using var model = Stories();
        if (model is null)
            return;
        var generator = model.CreateGenerator();
        var o = new GenerationOptions { Temperature = 1.0f, MaxTokens = 60, Seed = 1234 };
        var a = generator.Generate([model.Tokenizer.BosId], o).Text;
        var b = generator.Generate([model.Tokenizer.BosId], o).Text;
        var c = generator.Generate([model.Tokenizer.BosId], o with { Seed = 99 }).Text;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Generate_PromptSharingPrefix_ReusesCacheWithSameOutput()
    {
        using var model = Stories();
        if (model is null)
            return;
        var ids = model.Tokenizer.Encode("Once upon a time, there was a dog named Max");
        var generator = model.CreateGenerator();
        // Five shared tokens, then a different sixth one: the second call must recompute from position 5 on.
        generator.Generate([.. ids[..5], ids[5] == 2 ? 3 : 2], Greedy with { MaxTokens = 3 });
        var warm = generator.Generate(ids, Greedy with { MaxTokens = 40 });
        var cold = model.CreateGenerator().Generate(ids, Greedy with { MaxTokens = 40 });
        Assert.Equal(5, warm.CachedPromptTokens);
        Assert.Equal(0, cold.CachedPromptTokens);
        Assert.Equal(cold.Text, warm.Text);
    }

    [Fact]
    public void Generate_TokenOutsideVocabulary_ThrowsNamingTheId()
    {
        using var model = Stories();
        if (model is null)
            return;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateGenerator().Generate([1, 600], Greedy));
        Assert.Contains("600", e.Message);
    }
}
