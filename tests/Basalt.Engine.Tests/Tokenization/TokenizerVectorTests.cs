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
}
