using Basalt.Cli.Commands;
using Basalt.Core.Catalog;

namespace Basalt.Cli.Tests.Commands;

public sealed class ServeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("basalt-serve-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, "GGUF");
        return path;
    }

    [Fact]
    public void AddLocalModels_NameEqualsPath_AddsLocalProviderAndEntries()
    {
        var a = File("a.gguf");
        var b = File("b.gguf");
        var cfg = ServeCommand.AddLocalModels(new BasaltConfig(), [$"tiny={a}", $"other={b}"]);
        Assert.Equal("local", cfg.Providers["local"].Type);
        Assert.Equal(["tiny", "other"], cfg.Models.Select(m => m.Id));
        Assert.All(cfg.Models, m => Assert.Equal("local", m.Provider));
        Assert.Equal(a, cfg.Models[0].Path);
    }

    [Fact]
    public void AddLocalModels_ConfigHasLocalProvider_UsesIt()
    {
        var a = File("a.gguf");
        var cfg = new BasaltConfig { Providers = new Dictionary<string, ProviderConfig> { ["engine"] = new() { Type = "local", KeepAliveSeconds = 60 } } };
        cfg = ServeCommand.AddLocalModels(cfg, [$"tiny={a}"]);
        Assert.Equal("engine", Assert.Single(cfg.Models).Provider);
        Assert.Single(cfg.Providers);
    }

    [Theory]
    [InlineData("no-equals-sign", "expected NAME=PATH.gguf")]
    [InlineData("=x.gguf", "expected NAME=PATH.gguf")]
    [InlineData("tiny=/does/not/exist.gguf", "does not exist")]
    public void AddLocalModels_BadSpec_ThrowsWithAClearMessage(string spec, string message)
    {
        var ex = Assert.Throws<InvalidDataException>(() => ServeCommand.AddLocalModels(new BasaltConfig(), [spec]));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void AddLocalModels_SameNameTwice_ThrowsDuplicateName()
    {
        var a = File("a.gguf");
        var ex = Assert.Throws<InvalidDataException>(() => ServeCommand.AddLocalModels(new BasaltConfig(), [$"tiny={a}", $"tiny={a}"]));
        Assert.Contains("'tiny' is used twice", ex.Message);
    }

    [Fact]
    public async Task Serve_UnknownProviderType_ExitsAtStartWithTheProviderNamed()
    {
        var config = Path.Combine(_dir, "basalt.yaml");
        System.IO.File.WriteAllText(config, "providers:\n  gpu:\n    type: nosuch\n");
        var error = new StringWriter();
        var exit = await ServeCommand.Create()
            .Parse(["--config", config, "--data-dir", Path.Combine(_dir, "data"), "--listen", "127.0.0.1:0"])
            .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = TextWriter.Null, Error = error });
        Assert.Equal(2, exit);
        Assert.Contains("providers.gpu.type 'nosuch'", error.ToString());
    }
}
