using System.CommandLine;
using System.Text.Json;
using Basalt.Cli.Commands;
using Basalt.Tests.Common;

namespace Basalt.Cli.Tests.Commands;

public sealed class BenchCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { BenchCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Bench_Stories260KJson_ReportsEveryFigure()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        var (exit, output, error) = Run("bench", path, "--threads", "2", "--prompt-tokens", "16", "--gen-tokens", "8", "--json");
        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        var r = json.RootElement;
        Assert.Equal("llama", r.GetProperty("architecture").GetString());
        Assert.Equal(16, r.GetProperty("promptTokens").GetInt32());
        Assert.Equal(8, r.GetProperty("generatedTokens").GetInt32());
        Assert.True(r.GetProperty("promptTokensPerSecond").GetDouble() > 0);
        Assert.True(r.GetProperty("decodeTokensPerSecond").GetDouble() > 0);
        Assert.True(r.GetProperty("timeToFirstTokenMs").GetDouble() > 0);
        Assert.True(r.GetProperty("peakWorkingSetBytes").GetInt64() > 0);
    }

    [Fact]
    public void Bench_Repetitions_ReportsTheMedianBetweenTheSlowestAndFastestRun()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        var (exit, output, error) = Run("bench", path, "--threads", "1", "--prompt-tokens", "8", "--gen-tokens", "4", "--repetitions", "3", "--json");
        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        var r = json.RootElement;
        Assert.Equal(3, r.GetProperty("repetitions").GetInt32());
        var prompt = r.GetProperty("promptTokensPerSecond").GetDouble();
        Assert.InRange(prompt, r.GetProperty("promptTokensPerSecondMin").GetDouble(), r.GetProperty("promptTokensPerSecondMax").GetDouble());
        var decode = r.GetProperty("decodeTokensPerSecond").GetDouble();
        Assert.InRange(decode, r.GetProperty("decodeTokensPerSecondMin").GetDouble(), r.GetProperty("decodeTokensPerSecondMax").GetDouble());
    }

    [Fact]
    public void Bench_KeepMapped_ReportsNoWeightsInNativeMemory()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        long Native(params string[] extra)
        {
            var (exit, output, error) = Run(["bench", path, "--threads", "1", "--prompt-tokens", "4", "--gen-tokens", "2", "--json", .. extra]);
            Assert.True(exit == 0, error);
            using var json = JsonDocument.Parse(output);
            return json.RootElement.GetProperty("nativeWeightBytes").GetInt64();
        }
        Assert.Equal(0, Native("--keep-mapped"));
        // On Linux the default copies the weights out of the mapping (elsewhere only Q8_0 is repacked, and this model has none).
        if (OperatingSystem.IsLinux())
            Assert.True(Native() > 0);
    }

    [Fact]
    public void Bench_ZeroRepetitions_ExitsTwo()
    {
        var (exit, _, error) = Run("bench", "some.gguf", "--repetitions", "0");
        Assert.Equal(2, exit);
        Assert.Contains("--repetitions", error);
    }

    [Fact]
    public void Bench_MakeModelUnknownShape_ExitsTwoListingShapes()
    {
        var (exit, _, error) = Run("bench", "--make-model", "gpt-5", "--out", "x.gguf");
        Assert.Equal(2, exit);
        Assert.Contains("smollm2-135m", error);
    }

    [Fact]
    public void Bench_MakeModelUnknownType_ExitsTwoListingTypes()
    {
        var (exit, _, error) = Run("bench", "--make-model", "smollm2-135m", "--type", "Q3_XYZ", "--out", "x.gguf");
        Assert.Equal(2, exit);
        Assert.Contains("Q4_K_M", error);
    }

    [Fact]
    public void Bench_NoFile_ExplainsUsage()
    {
        var (exit, _, error) = Run("bench");
        Assert.Equal(2, exit);
        Assert.Contains("--make-model", error);
    }
}
