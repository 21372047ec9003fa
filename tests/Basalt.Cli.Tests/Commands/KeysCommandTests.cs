using System.CommandLine;
using System.Text;
using System.Text.Json;
using Basalt.Cli.Commands;
using Basalt.Core.Catalog;
using Basalt.Server.Auth;
using Basalt.Server.State;
using Microsoft.Data.Sqlite;

namespace Basalt.Cli.Tests.Commands;

public sealed class KeysCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "basalt-cli-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private async Task<(int Exit, string Out, string Err)> RunAsync(Command command, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var all = args.Concat(["--data-dir", _dir, "--config", Path.Combine(_dir, "absent.yaml")]).ToArray();
        var exit = await command.Parse(all).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private Task<(int Exit, string Out, string Err)> KeysAsync(params string[] args) => RunAsync(KeysCommand.Create(), args);

    private byte[] StoreBytes()
    {
        SqliteConnection.ClearAllPools();
        var all = new List<byte>();
        foreach (var f in Directory.GetFiles(_dir, "basalt.db*"))
            all.AddRange(File.ReadAllBytes(f));
        return [.. all];
    }

    [Fact]
    public async Task Create_BearerKey_PrintsSecretOnceAndStoresOnlyItsHash()
    {
        var (exit, output, _) = await KeysAsync("create", "--name", "alice");

        Assert.Equal(0, exit);
        var secret = output.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("bsk-", StringComparison.Ordinal));
        Assert.Equal(-1, StoreBytes().AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret["bsk-".Length..])));
        using var store = await StateStore.OpenAsync(new ServerConfig { DataDir = _dir });
        var (key, failure) = await ApiKeys.Open(store, _dir).VerifyBearerAsync(secret);
        Assert.Null(failure);
        Assert.Equal("alice", key!.Name);

        var (_, listed, _) = await KeysAsync("list");
        Assert.Contains("alice", listed);
        Assert.DoesNotContain(secret, listed);
    }

    [Fact]
    public async Task Create_AwsKeyWithModelsAndExpiryAsJson_PrintsAccessKeyPair()
    {
        var before = DateTimeOffset.UtcNow;
        var (exit, output, _) = await KeysAsync("create", "--name", "ci", "--aws", "--models", "m1, m2", "--expires-in", "30d", "--json");

        Assert.Equal(0, exit);
        var doc = JsonDocument.Parse(output).RootElement;
        Assert.Equal("aws", doc.GetProperty("kind").GetString());
        Assert.Matches("^BKIA[A-Z]{16}$", doc.GetProperty("accessKeyId").GetString()!);
        var secret = doc.GetProperty("secretAccessKey").GetString()!;
        Assert.True(secret.Length >= 43);
        Assert.Equal(["m1", "m2"], doc.GetProperty("models").EnumerateArray().Select(e => e.GetString()!));
        var expires = doc.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.InRange(expires, before.AddDays(30).AddMinutes(-1), before.AddDays(30).AddMinutes(1));
        Assert.Equal(-1, StoreBytes().AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)));
    }

    [Fact]
    public async Task Create_NameInUseOrBadLifetime_FailsWithMessage()
    {
        await KeysAsync("create", "--name", "alice");

        var duplicate = await KeysAsync("create", "--name", "alice");
        var badLifetime = await KeysAsync("create", "--name", "bob", "--expires-in", "soon");

        Assert.Equal(2, duplicate.Exit);
        Assert.Contains("already exists", duplicate.Err);
        Assert.Equal(2, badLifetime.Exit);
        Assert.Contains("for example 30d", badLifetime.Err);
    }

    [Fact]
    public async Task Revoke_ByName_KeyStopsAuthenticatingAndListShowsRevoked()
    {
        var (_, created, _) = await KeysAsync("create", "--name", "alice", "--json");
        var secret = JsonDocument.Parse(created).RootElement.GetProperty("key").GetString()!;

        var (exit, output, _) = await KeysAsync("revoke", "alice");

        Assert.Equal(0, exit);
        Assert.Contains("Revoked key 'alice'", output);
        using (var store = await StateStore.OpenAsync(new ServerConfig { DataDir = _dir }))
            Assert.Equal(AuthFailureReason.Revoked, (await ApiKeys.Open(store, _dir).VerifyBearerAsync(secret)).Failure!.Reason);
        var (_, listed, _) = await KeysAsync("list", "--json");
        Assert.Equal("revoked", JsonDocument.Parse(listed.Trim()).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Revoke_UnknownKey_FailsNamingIt()
    {
        var (exit, _, error) = await KeysAsync("revoke", "nobody");

        Assert.Equal(1, exit);
        Assert.Contains("'nobody'", error);
    }

    [Fact]
    public async Task Serve_LoopbackWithoutKeys_WritesAdminKeyThatServesMetrics()
    {
        int port;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var args = new[] { "--listen", $"127.0.0.1:{port}", "--data-dir", _dir, "--config", Path.Combine(_dir, "absent.yaml") };
        var serving = ServeCommand.Create().Parse(args).InvokeAsync(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null }, cts.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        var keyFile = Path.Combine(_dir, "admin-key");
        HttpResponseMessage? health = null;
        while (health is null && !serving.IsCompleted)
        {
            try
            {
                health = await http.GetAsync("/healthz", cts.Token);
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100, cts.Token);
            }
        }

        Assert.NotNull(health);
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        Assert.True(File.Exists(keyFile));
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(keyFile).Trim());
        using var metrics = await http.GetAsync("/metrics", cts.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("basalt_requests_total{face=\"ops\",status=\"200\"}", await metrics.Content.ReadAsStringAsync());
        await cts.CancelAsync();
        Assert.Equal(0, await serving.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Serve_PublicAddressWithoutKeys_RefusesToStart()
    {
        var (exit, _, error) = await RunAsync(ServeCommand.Create(), "--listen", "0.0.0.0:18799");

        Assert.Equal(2, exit);
        Assert.Contains("basalt keys create", error);
        Assert.False(File.Exists(Path.Combine(_dir, "admin-key")));
    }
}
