using System.CommandLine;
using Basalt.Cli.Commands;
using Basalt.Tests.Common;

namespace Basalt.Cli.Tests.Commands;

public sealed class RunCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { RunCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Run_Stories260KRawGreedyFromBos_PrintsTheGoldenText()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        var golden = File.ReadAllText(SharedFiles.Path("golden/stories260K.greedy-bos-n200.txt")!);
        var (exit, output, error) = Run("run", path, "", "--raw", "--temperature", "0", "--max-tokens", "200", "--threads", "2");
        Assert.True(exit == 0, error);
        Assert.Equal(golden + Environment.NewLine, output);
    }

    [Fact]
    public void Run_RawPrompt_EchoesThePromptThenTheLlamaCppContinuation()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        const string Prompt = "Once upon a time, there was a dog named Max";
        var golden = File.ReadAllText(SharedFiles.Path("golden/stories260K.greedy-max-n120.txt")!);
        var (exit, output, error) = Run("run", path, Prompt, "--raw", "--temperature", "0", "--max-tokens", "120");
        Assert.True(exit == 0, error);
        // llama.cpp echoes the prompt with the tokenizer's leading space and ends with a blank line; we echo the prompt as typed.
        Assert.Equal(golden.TrimStart(' ').TrimEnd('\n') + Environment.NewLine, output);
    }

    [Fact]
    public void Run_WithoutChatTemplate_SaysSoAndStillGenerates()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        var (exit, output, error) = Run("run", path, "Tell me a story", "--temperature", "0", "--max-tokens", "20", "--verbose");
        Assert.Equal(0, exit);
        Assert.Contains("no chat template", error);
        Assert.Contains("generated", error);
        Assert.False(string.IsNullOrWhiteSpace(output));
    }

    [Fact]
    public void Run_MissingModelFile_ExitsOneWithTheReason()
    {
        var (exit, _, error) = Run("run", "/nonexistent/model.gguf", "hi");
        Assert.Equal(1, exit);
        Assert.Contains("cannot load /nonexistent/model.gguf", error);
    }

    [Fact]
    public void Run_NegativeTemperature_ExitsTwoNamingTheOption()
    {
        var (exit, _, error) = Run("run", "model.gguf", "hi", "--temperature", "-1");
        Assert.Equal(2, exit);
        Assert.Contains("Temperature", error);
    }
}
