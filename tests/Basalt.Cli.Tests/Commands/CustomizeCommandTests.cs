using System.CommandLine;
using System.Text.Json;
using Basalt.Cli.Commands;
using Basalt.Tests.Common;
using Microsoft.Data.Sqlite;

namespace Basalt.Cli.Tests.Commands;

/// <summary>`basalt customize` against a real `basalt serve` started in-process.</summary>
public sealed class CustomizeCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "basalt-cli-" + Guid.NewGuid().ToString("N"));

    public CustomizeCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task<(int Exit, string Out, string Err)> RunAsync(Command command, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await command.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task CreateAndWatch_AgainstServe_BadDataNamesTheLineAndAGoodJobCompletes()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        int port;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        }
        var absent = Path.Combine(_dir, "absent.yaml");
        var created = await RunAsync(KeysCommand.Create(), "create", "--name", "cli", "--json", "--data-dir", _dir, "--config", absent);
        Assert.Equal(0, created.Exit);
        var key = JsonDocument.Parse(created.Out).RootElement.GetProperty("key").GetString()!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var serving = ServeCommand.Create().Parse(["--listen", $"127.0.0.1:{port}", "--data-dir", _dir, "--config", absent, "--model", "stories=" + model])
            .InvokeAsync(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null }, cts.Token);
        using (var http = new HttpClient())
            while (!serving.IsCompleted)
            {
                try
                {
                    await http.GetAsync($"http://127.0.0.1:{port}/healthz", cts.Token);
                    break;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100, cts.Token);
                }
            }
        string[] server = ["--endpoint", $"127.0.0.1:{port}", "--api-key", key];

        var bad = Path.Combine(_dir, "bad.jsonl");
        await File.WriteAllLinesAsync(bad, ["""{"input": "ok"}""", """{"text": "wrong field"}"""]);
        var refused = await RunAsync(CustomizeCommand.Create(), ["create", "--type", "CONTINUED_PRE_TRAINING", "--base", "stories", "--data", bad, "--name", "bad", .. server]);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("bad.jsonl line 2: missing the \"input\" field", refused.Err);

        var good = Path.Combine(_dir, "good.jsonl");
        await File.WriteAllLinesAsync(good, Enumerable.Range(0, 4).Select(i => $$"""{"input": "Story {{i}}: the cat sat on the mat."}"""));
        var run = await RunAsync(CustomizeCommand.Create(), ["create", "--type", "CONTINUED_PRE_TRAINING", "--base", "stories", "--data", good, "--name", "cat",
            "--job-name", "cat-job", "--epochs", "1", "--batch-size", "2", "--hyper", "threads=1", "--watch", .. server]);
        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.Contains("completed: the model 'cat' is served", run.Out);

        var list = await RunAsync(CustomizeCommand.Create(), ["list", .. server]);
        Assert.Contains("cat-job", list.Out);
        Assert.Contains("Completed", list.Out);
        var show = await RunAsync(CustomizeCommand.Create(), ["show", "cat-job", .. server]);
        Assert.Contains("hyper:      batchSize=2, epochCount=1, threads=1", show.Out);

        await cts.CancelAsync();
        await serving.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
