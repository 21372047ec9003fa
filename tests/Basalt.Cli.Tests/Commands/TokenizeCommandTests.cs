using System.CommandLine;
using Basalt.Cli.Commands;
using Basalt.Tests.Common;

namespace Basalt.Cli.Tests.Commands;

public sealed class TokenizeCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = new RootCommand { TokenizeCommand.Create(output, error) };
        var exit = root.Parse(["tokenize", .. args]).Invoke();
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Tokenize_StoriesPrompt_PrintsBosThenIds()
    {
        var model = SharedFiles.Path("models/stories260K.gguf");
        if (model is null)
            return;
        var (exit, output, _) = Run(model, "Once upon a time");
        Assert.Equal(TokenizeCommand.Success, exit);
        var ids = output.Trim().Split(' ');
        Assert.Equal("1", ids[0]);
        Assert.Equal(5, ids.Length); // <s> ▁Once ▁upon ▁a ▁time
    }

    [Fact]
    public void Tokenize_WithPieces_PrintsEachTokenText()
    {
        var model = SharedFiles.Path("models/stories260K.gguf");
        if (model is null)
            return;
        var (exit, output, _) = Run(model, "Once upon", "--pieces", "--no-special");
        Assert.Equal(TokenizeCommand.Success, exit);
        var lines = output.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.EndsWith("\"▁Once\"", lines[0]);
        Assert.EndsWith("\"▁upon\"", lines[1]);
    }

    [Fact]
    public void Tokenize_MatchingVectorFiles_PrintsSummaryAndExitsZero()
    {
        var vocab = SharedFiles.Path("tokenizer-tests/ggml-vocab-gpt-2.gguf");
        if (vocab is null)
            return;
        var (exit, output, _) = Run(vocab, "--cases", vocab + ".inp", "--expect", vocab + ".out");
        Assert.Equal(TokenizeCommand.Success, exit);
        Assert.DoesNotContain("MISMATCH", output);
        Assert.Contains("46 passed, 0 failed", output);
    }

    [Fact]
    public void Tokenize_WrongExpectation_PrintsMismatchAndExitsNonZero()
    {
        var vocab = SharedFiles.Path("tokenizer-tests/ggml-vocab-gpt-2.gguf");
        if (vocab is null)
            return;
        var dir = Directory.CreateTempSubdirectory("basalt-tokenize-");
        try
        {
            var inp = Path.Combine(dir.FullName, "x.inp");
            var expected = Path.Combine(dir.FullName, "x.out");
            File.WriteAllText(inp, "Hello world\n__ggml_vocab_test__\n hello\n__ggml_vocab_test__\n");
            File.WriteAllText(expected, " 15496 995\n 1 2 3\n");
            var (exit, output, _) = Run(vocab, "--cases", inp, "--expect", expected);
            Assert.Equal(TokenizeCommand.Mismatch, exit);
            Assert.Contains("MISMATCH case 2: \" hello\"", output);
            Assert.Contains("expected: 1 2 3", output);
            Assert.Contains("got:      23748", output);
            Assert.Contains("1 passed, 1 failed", output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Tokenize_MissingFile_PrintsErrorAndExitsTwo()
    {
        var (exit, _, error) = Run("/nonexistent/model.gguf", "hi");
        Assert.Equal(TokenizeCommand.UsageError, exit);
        Assert.StartsWith("error:", error);
    }

    [Fact]
    public void Tokenize_CasesWithoutExpect_PrintsUsageErrorAndExitsTwo()
    {
        var (exit, _, error) = Run("whatever.gguf", "--cases", "x.inp");
        Assert.Equal(TokenizeCommand.UsageError, exit);
        Assert.Contains("--expect", error);
    }
}
