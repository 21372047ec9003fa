using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Basalt.Server.Auth;
using Basalt.Server.State;
using Basalt.Server.Tests.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Tests.Auth;

public sealed class BearerAuthTests
{
    private static async Task<RunningServer> StartAsync()
        => await RunningServer.StartAsync(configureApp: app => TestEndpoints.Map(app), configureServices: TestEndpoints.AddServices);

    private static HttpClient WithBearer(RunningServer server, string key)
    {
        var client = server.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static async Task<(HttpStatusCode Status, string? AwsError, JsonElement Body)> SendAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        var code = response.Headers.TryGetValues("x-amzn-ErrorType", out var v) ? v.Single() : null;
        return (response.StatusCode, code, body);
    }

    [Fact]
    public async Task Request_ValidBearerKey_ReachesEndpointAsThatKey()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();

        Assert.Equal("test", await client.GetStringAsync("/test/whoami"));
    }

    [Fact]
    public async Task OpenAiPath_NoKey_Returns401AuthenticationError()
    {
        await using var server = await StartAsync();
        using var client = server.CreateAnonymousClient();

        var (status, _, body) = await SendAsync(client, "/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("authentication_error", body.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("basalt keys create", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task BedrockPath_NoKey_Returns403MissingAuthenticationToken()
    {
        await using var server = await StartAsync();
        using var client = server.CreateAnonymousClient();

        var (status, code, body) = await SendAsync(client, "/model/scripted-model/converse");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("MissingAuthenticationTokenException", code);
        Assert.Contains("Authorization: Bearer", body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Request_UnknownKey_RefusedOnBothFaces()
    {
        await using var server = await StartAsync();
        using var client = WithBearer(server, server.ApiKey[..^2] + "zz");

        var openai = await SendAsync(client, "/v1/chat/completions");
        var bedrock = await SendAsync(client, "/model/echo/converse");

        Assert.Equal(HttpStatusCode.Unauthorized, openai.Status);
        Assert.Equal("invalid_api_key", openai.Body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, bedrock.Status);
        Assert.Equal("UnrecognizedClientException", bedrock.AwsError);
        Assert.Contains("not known", bedrock.Body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Request_RevokedKey_RefusedSayingRevoked()
    {
        await using var server = await StartAsync();
        var issued = await server.CreateKeyAsync("soon-revoked");
        using var client = WithBearer(server, issued.Secret);
        Assert.Equal("soon-revoked", await client.GetStringAsync("/test/whoami"));

        await server.Services.GetRequiredService<IStateStore>().RevokeKeyAsync("soon-revoked", DateTimeOffset.UtcNow);
        var (status, _, body) = await SendAsync(client, "/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("'soon-revoked' was revoked", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Request_ExpiredKey_RefusedAsExpiredToken()
    {
        await using var server = await StartAsync();
        var secret = "bsk-expired-" + Guid.NewGuid().ToString("N");
        await server.Services.GetRequiredService<IStateStore>().InsertKeyAsync(new ApiKeyRecord
        {
            Id = "key_old", Name = "old", Kind = ApiKeyKind.Bearer, SecretHash = ApiKeys.HashSecret(secret),
            CreatedAt = DateTimeOffset.UtcNow.AddDays(-31), ExpiresAt = DateTimeOffset.UtcNow.AddDays(-1),
        });
        using var client = WithBearer(server, secret);

        var (status, code, body) = await SendAsync(client, "/model/echo/converse");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("ExpiredTokenException", code);
        Assert.Contains("'old' expired", body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Request_UnsupportedScheme_RefusedAsMalformed()
    {
        await using var server = await StartAsync();
        using var client = server.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");

        var (status, code, _) = await SendAsync(client, "/model/echo/converse");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("IncompleteSignatureException", code);
    }

    [Fact]
    public async Task Healthz_NoKey_ReturnsOk()
    {
        await using var server = await StartAsync();
        using var client = server.CreateAnonymousClient();

        using var response = await client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Request_ValidKey_LastUsedRecordedAtFlush()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        await client.GetStringAsync("/test/whoami");
        await server.Services.GetRequiredService<LastUsedRecorder>().FlushAsync();

        var key = (await server.Services.GetRequiredService<IStateStore>().ListKeysAsync()).Single(k => k.Name == "test");
        Assert.NotNull(key.LastUsedAt);
        Assert.True(key.LastUsedAt >= before);
    }
}
