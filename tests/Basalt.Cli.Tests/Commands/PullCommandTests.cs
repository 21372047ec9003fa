using System.CommandLine;
using Basalt.Cli.Commands;
using Basalt.Core.Catalog;
using Basalt.Engine.Gguf;
using Basalt.Engine.Store;
using Basalt.Tests.Common;

namespace Basalt.Cli.Tests.Commands;

public sealed class PullCommandTests : IDisposable
{
    private const string Repo = "acme/tiny-GGUF";
    private readonly FakeHub _hub = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("basalt-pull-").FullName;

    public void Dispose()
    {
        _hub.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static byte[] TinyGguf()
    {
        var values = new float[256 * 8];
        for (var i = 0; i < values.Length; i++) values[i] = i % 7 - 3;
        using var stream = new MemoryStream();
        new GgufWriter().Add(GgufKeys.Architecture, "qwen2").Add(GgufKeys.FileType, 7u)
            .AddTensor("token_embd.weight", GgmlType.Q8_0, [256, 8], values).WriteTo(stream);
        return stream.ToArray();
    }

    private (int Exit, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { PullCommand.Create(), ModelsCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = root.Parse([.. args, "--models-dir", _dir]).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Pull_ThenListShowRm_ManagesTheModel()
    {
        _hub.Add(Repo, "tiny-q8_0.gguf", TinyGguf());

        var pull = Run("pull", Repo, "--endpoint", _hub.Endpoint);
        Assert.Equal(0, pull.Exit);
        Assert.Contains($"pulled {Repo}:tiny-q8_0.gguf", pull.Out);
        Assert.Contains("(100%)", pull.Out); // plain progress lines when the output is not a terminal

        var list = Run("models", "list");
        Assert.Equal(0, list.Exit);
        Assert.Matches(@$"{Repo}:tiny-q8_0\.gguf\s+\d+\.\d KiB\s+Q8_0\s+qwen2\s+/", list.Out);

        var show = Run("models", "show", $"{Repo}:tiny-q8_0.gguf");
        Assert.Equal(0, show.Exit);
        Assert.Contains("parameters:    2,048", show.Out);
        Assert.Contains($"sha256:        {FakeHub.Sha256(TinyGguf())}", show.Out);
        Assert.Contains($"{_hub.Endpoint}/{Repo}/resolve/main/tiny-q8_0.gguf", show.Out);

        var rm = Run("models", "rm", $"{Repo}:tiny-q8_0.gguf");
        Assert.Equal(0, rm.Exit);
        Assert.Empty(Directory.GetFiles(_dir, "*.gguf", SearchOption.AllDirectories));
        Assert.Contains("no models in", Run("models", "list").Out);
    }

    [Fact]
    public void Pull_UnknownRepo_ExitsOneWithA404Message()
    {
        var (exit, _, err) = Run("pull", "acme/missing", "--endpoint", _hub.Endpoint);

        Assert.Equal(1, exit);
        Assert.Contains("404", err);
    }

    [Fact]
    public void Pull_MalformedReference_ExitsTwoWithAnExample()
    {
        var (exit, _, err) = Run("pull", "just-a-name", "--endpoint", _hub.Endpoint);

        Assert.Equal(2, exit);
        Assert.Contains("expected OWNER/REPO[:FILE.gguf]", err);
    }

    [Fact]
    public async Task RunAsync_GatedRepo_NeedsTheToken()
    {
        _hub.Add(Repo, "tiny-q8_0.gguf", TinyGguf());
        _hub.GatedTokens[Repo] = "hf_x";
        var output = new StringWriter();
        var error = new StringWriter();

        Assert.Equal(1, await PullCommand.RunAsync(Repo, _dir, _hub.Endpoint, null, output, error, interactive: false, CancellationToken.None));
        Assert.Contains("set HF_TOKEN", error.ToString());
        Assert.Equal(0, await PullCommand.RunAsync(Repo, _dir, _hub.Endpoint, "hf_x", output, error, interactive: false, CancellationToken.None));
    }

    [Fact]
    public void ModelsShow_UnknownName_ExitsOneNamingTheListCommand()
    {
        var (exit, _, err) = Run("models", "show", "nope");

        Assert.Equal(1, exit);
        Assert.Contains("basalt models list", err);
    }

    [Fact]
    public void AddLocalModels_RegisteredName_ServesThePulledFile()
    {
        _hub.Add(Repo, "tiny-q8_0.gguf", TinyGguf());
        Assert.Equal(0, Run("pull", $"{Repo}:tiny-q8_0.gguf", "--endpoint", _hub.Endpoint).Exit);
        var store = new ModelStore(_dir);

        var cfg = ServeCommand.AddLocalModels(new BasaltConfig(), [$"tiny={Repo}:tiny-q8_0.gguf"], store);

        Assert.Equal(store.Find($"{Repo}:tiny-q8_0.gguf")!.Path, Assert.Single(cfg.Models).Path);
        var e = Assert.Throws<InvalidDataException>(() => ServeCommand.AddLocalModels(new BasaltConfig(), ["tiny=acme/none:x.gguf"], store));
        Assert.Contains("no pulled model is named", e.Message);
    }
}
