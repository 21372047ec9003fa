using System.CommandLine;
using Basalt.Cli.Commands;
using Basalt.Engine.Gguf;
using Basalt.Tests.Common;

namespace Basalt.Cli.Tests.Commands;

public sealed class GgufCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { GgufCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Info_Stories260K_PrintsHeaderMetadataAndTensorTable()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        var (exit, output, _) = Run("gguf", "info", path);

        Assert.Equal(0, exit);
        Assert.Contains("gguf version:  3", output);
        Assert.Contains("architecture:  llama", output);
        Assert.Matches(@"llama\.block_count\s+UInt32\s+5", output);
        Assert.Matches(@"token_embd\.weight\s+F32\s+\[64, 512\]\s+128\.0 KiB", output);
        Assert.Contains("48 tensors", output);
        Assert.Contains("... (512 String in all)", output); // the vocabulary is abbreviated
    }

    [Fact]
    public void Info_FullOption_PrintsWholeArrays()
    {
        var path = Path.GetTempFileName();
        try
        {
            var tokens = Enumerable.Range(0, 20).Select(i => "tok" + i).ToArray();
            new GgufWriter().Add(GgufKeys.Architecture, "qwen2").Add(GgufKeys.TokenizerTokens, tokens).WriteTo(path);
            Assert.Contains("... (20 String in all)", Run("gguf", "info", path).Out);
            var full = Run("gguf", "info", "--full", path).Out;
            Assert.Contains("\"tok19\"", full);
            Assert.DoesNotContain("in all", full);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Info_QuantizedTensors_ShowsTypesAndTotalsPerType()
    {
        var path = Path.GetTempFileName();
        try
        {
            new GgufWriter().Add(GgufKeys.Architecture, "llama")
                .AddTensor("blk.0.ffn_up.weight", GgmlType.Q4_K, [256, 4], new float[1024])
                .AddTensor("blk.0.ffn_down.weight", GgmlType.Q6_K, [256, 2], new float[512])
                .AddTensor("output_norm.weight", GgmlType.F32, [256], new float[256])
                .WriteTo(path);
            var (exit, output, _) = Run("gguf", "info", path);
            Assert.Equal(0, exit);
            Assert.Matches(@"blk\.0\.ffn_up\.weight\s+Q4_K\s+\[256, 4\]\s+576 B", output);
            Assert.Contains("3 tensors, 1,792 parameters", output);
            Assert.Matches(@"Q6_K\s+1 tensors\s+420 B", output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Info_NotAGgufFile_PrintsErrorAndExitsNonZero()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "this is a text file, not a model at all");
            var (exit, output, error) = Run("gguf", "info", path);
            Assert.Equal(1, exit);
            Assert.Contains("bad magic", error);
            Assert.Contains(path, error);
            Assert.Equal("", output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Info_TruncatedFile_PrintsErrorAndExitsNonZero()
    {
        var path = Path.GetTempFileName();
        try
        {
            var bytes = new GgufWriter().Add(GgufKeys.Architecture, "llama").AddTensor("w", GgmlType.F32, [64], new float[64]).ToArray();
            File.WriteAllBytes(path, bytes[..^10]);
            var (exit, _, error) = Run("gguf", "info", path);
            Assert.Equal(1, exit);
            Assert.Contains("truncated", error);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
