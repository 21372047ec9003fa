using System.Text;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tokenization;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Tokenization;

public sealed class TokenizerVectorTests
{
    [Theory]
    [InlineData("llama-spm")]
    [InlineData("phi-3")]
    [InlineData("gpt-2")]
    [InlineData("starcoder")]
    [InlineData("deepseek-coder")]
    [InlineData("bert-bge")]
    public void Encode_LlamaCppVectors_MatchExactly(string family)
    {
        var vocabPath = SharedFiles.Path($"tokenizer-tests/ggml-vocab-{family}.gguf");
        if (vocabPath is null)
            return;
        using var file = GgufFile.Open(vocabPath);
        var tokenizer = Tokenizer.FromGguf(file);
        var cases = TokenizerTestVectors.Load(vocabPath + ".inp", vocabPath + ".out");
        Assert.True(cases.Count > 30, $"expected the full vector set, got {cases.Count} cases");

        var mismatches = TokenizerTestVectors.Run(tokenizer, cases);

        var report = new StringBuilder();
        foreach (var m in mismatches)
            report.Append($"case {m.Index} {Show(m.Input)}\n  expected {string.Join(' ', m.Expected)}\n  got      {string.Join(' ', m.Actual)}\n");
        Assert.True(mismatches.Count == 0, $"{family}: {mismatches.Count} of {cases.Count} cases differ:\n{report}");
    }

    private static string Show(string s) => "\"" + s.Replace("\n", "\\n").Replace("\t", "\\t") + "\"";

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("gpt-2")]
    [InlineData("bert-bge")]
    public void Encode_ManyThreadsAtOnce_EveryThreadGetsTheExpectedIds(string family)
    {
        var vocabPath = SharedFiles.Path($"tokenizer-tests/ggml-vocab-{family}.gguf");
        if (vocabPath is null)
            return;
        using var file = GgufFile.Open(vocabPath);
        var tokenizer = Tokenizer.FromGguf(file);
        var cases = TokenizerTestVectors.Load(vocabPath + ".inp", vocabPath + ".out");
        var failures = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            for (var round = 0; round < 5; round++)
            {
                foreach (var c in cases)
                {
                    if (!tokenizer.Encode(c.Input, addSpecial: false).AsSpan().SequenceEqual(c.Expected))
                        Interlocked.Increment(ref failures);
                }
            }
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Encode_InputOverScratchLimit_StillMatchesShortInputEncoding()
    {
        var vocabPath = SharedFiles.Path("tokenizer-tests/ggml-vocab-gpt-2.gguf");
        if (vocabPath is null)
            return;
        using var file = GgufFile.Open(vocabPath);
        var tokenizer = Tokenizer.FromGguf(file);
        var sentence = "The quick brown fox jumps over the lazy dog.\n"; // ends at a word boundary, so copies tokenize alike
        var unit = tokenizer.Encode(sentence, addSpecial: false);
        var copies = 300 * 1024 / sentence.Length + 1;
        var big = tokenizer.Encode(string.Concat(Enumerable.Repeat(sentence, copies)), addSpecial: false);
        Assert.Equal(unit.Length * copies, big.Length);
        Assert.Equal(unit, big.AsSpan(big.Length - unit.Length).ToArray());
        Assert.Equal(unit, tokenizer.Encode(sentence, addSpecial: false)); // buffers released, then rebuilt
    }
}
