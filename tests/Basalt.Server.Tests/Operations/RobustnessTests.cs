using System.Net;
using System.Text.Json;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Operations;

public sealed class RobustnessTests
{
    [Fact]
    public async Task Request_BodyOverTheLimit_GetsTheFacesValidationError()
    {
        await using var server = await RunningServer.StartAsync(
            c => c with { Server = c.Server with { MaxRequestBodyBytes = 1024 } },
            app => TestEndpoints.Map(app), TestEndpoints.AddServices);
        using var client = server.CreateClient();

        using var small = await client.PostAsync("/test/upload", new ByteArrayContent(new byte[1000]));
        using var large = await client.PostAsync("/test/upload", new ByteArrayContent(new byte[64 * 1024]));

        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, large.StatusCode);
        var body = JsonDocument.Parse(await large.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Validation", body.GetProperty("kind").GetString());
        Assert.Contains("maxRequestBodyBytes", body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Request_SignedBodyOverTheLimit_RefusedCleanlyWhileHashing()
    {
        await using var server = await RunningServer.StartAsync(
            c => c with { Server = c.Server with { MaxRequestBodyBytes = 1024 } },
            app => TestEndpoints.Map(app), TestEndpoints.AddServices);
        var signer = server.CreateSigner();
        signer.OmitContentSha256 = true;
        using var client = server.CreateSigV4Client(signer);

        using var response = await client.PostAsync("/test/upload", new ByteArrayContent(new byte[64 * 1024]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var healthy = await server.CreateClient().GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
    }

    [Fact]
    public async Task StopAsync_RequestInFlight_CompletesBeforeShutdown()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await RunningServer.StartAsync(configureApp: app => TestEndpoints.Map(app, TimeSpan.FromSeconds(1.5), started), configureServices: TestEndpoints.AddServices);
        await using var _ = server;
        using var client = server.CreateClient();

        var slow = client.GetAsync("/test/slow");
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var stopping = server.App.StopAsync();
        using var response = await slow;
        await stopping;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("done", await response.Content.ReadAsStringAsync());
    }
}
