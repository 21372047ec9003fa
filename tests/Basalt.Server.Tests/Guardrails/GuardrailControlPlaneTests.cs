using System.Text.Json;
using Basalt.Server.Tests.Fakes;
using static Basalt.Server.Tests.Bedrock.BedrockHttp;

namespace Basalt.Server.Tests.Guardrails;

public sealed class GuardrailControlPlaneTests(SharedServer shared) : IClassFixture<SharedServer>
{
    internal const string Minimal = """{"name":"support-bot","description":"for the help desk","blockedInputMessaging":"Sorry, I cannot take that.","blockedOutputsMessaging":"Sorry, I cannot answer that."}""";

    internal static async Task<string> CreateAsync(HttpClient client, string json)
    {
        var (response, body) = await PostAsync(client, "/guardrails", json);
        Assert.True(202 == (int)response.StatusCode, body.ToString());
        return body.GetProperty("guardrailId").GetString()!;
    }

    private static async Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(HttpClient client, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
            request.Content = Json(json);
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        return (response, doc.RootElement.Clone());
    }

    [Fact]
    public async Task CreateGuardrail_Valid_Returns202WithIdArnAndDraft()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/guardrails", Minimal);
        Assert.Equal(202, (int)response.StatusCode);
        var id = body.GetProperty("guardrailId").GetString()!;
        Assert.Matches("^[a-z0-9]{12}$", id);
        Assert.Equal($"arn:aws:bedrock:local:000000000000:guardrail/{id}", body.GetProperty("guardrailArn").GetString());
        Assert.Equal("DRAFT", body.GetProperty("version").GetString());
        Assert.True(body.GetProperty("createdAt").TryGetDateTimeOffset(out _));
    }

    [Fact]
    public async Task GetGuardrail_AfterCreate_ReturnsPolicyShapeWithDefaults()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var id = await CreateAsync(client, """
            {"name":"g1","blockedInputMessaging":"in","blockedOutputsMessaging":"out",
             "sensitiveInformationPolicyConfig":{"regexesConfig":[{"name":"order","pattern":"ORD-[0-9]{6}","action":"ANONYMIZE"}]}}
            """);
        var (response, body) = await SendAsync(client, HttpMethod.Get, $"/guardrails/{id}");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("g1", body.GetProperty("name").GetString());
        Assert.Equal("DRAFT", body.GetProperty("version").GetString());
        Assert.Equal("READY", body.GetProperty("status").GetString());
        Assert.Equal("in", body.GetProperty("blockedInputMessaging").GetString());
        var regex = body.GetProperty("sensitiveInformationPolicy").GetProperty("regexes")[0];
        Assert.Equal("ANONYMIZE", regex.GetProperty("action").GetString());
        Assert.Equal("ANONYMIZE", regex.GetProperty("inputAction").GetString());
        Assert.True(regex.GetProperty("outputEnabled").GetBoolean());
    }

    [Fact]
    public async Task GetGuardrail_ByArn_FindsIt()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var id = await CreateAsync(client, Minimal);
        var arn = Uri.EscapeDataString($"arn:aws:bedrock:local:000000000000:guardrail/{id}");
        var (response, body) = await SendAsync(client, HttpMethod.Get, $"/guardrails/{arn}?guardrailVersion=DRAFT");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(id, body.GetProperty("guardrailId").GetString());
    }

    [Fact]
    public async Task Versions_UpdateAfterVersion_NumberedVersionKeepsOldConfig()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var id = await CreateAsync(client, Minimal);
        var (vr, vb) = await SendAsync(client, HttpMethod.Post, $"/guardrails/{id}", """{"description":"first release"}""");
        Assert.Equal(202, (int)vr.StatusCode);
        Assert.Equal("1", vb.GetProperty("version").GetString());
        var (ur, ub) = await SendAsync(client, HttpMethod.Put, $"/guardrails/{id}",
            """{"name":"support-bot","blockedInputMessaging":"changed","blockedOutputsMessaging":"changed too"}""");
        Assert.Equal(202, (int)ur.StatusCode);
        Assert.Equal("DRAFT", ub.GetProperty("version").GetString());

        var (_, v1) = await SendAsync(client, HttpMethod.Get, $"/guardrails/{id}?guardrailVersion=1");
        Assert.Equal("Sorry, I cannot take that.", v1.GetProperty("blockedInputMessaging").GetString());
        Assert.Equal("first release", v1.GetProperty("description").GetString());
        var (_, draft) = await SendAsync(client, HttpMethod.Get, $"/guardrails/{id}");
        Assert.Equal("changed", draft.GetProperty("blockedInputMessaging").GetString());

        var (_, v2) = await SendAsync(client, HttpMethod.Post, $"/guardrails/{id}");
        Assert.Equal("2", v2.GetProperty("version").GetString());
        var (_, list) = await SendAsync(client, HttpMethod.Get, $"/guardrails?guardrailIdentifier={id}");
        Assert.Equal(["DRAFT", "1", "2"], list.GetProperty("guardrails").EnumerateArray().Select(g => g.GetProperty("version").GetString()));
    }

    [Fact]
    public async Task ListGuardrails_Paged_FollowsNextToken()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        foreach (var n in new[] { "a", "b", "c" })
            await CreateAsync(client, Minimal.Replace("support-bot", "bot-" + n, StringComparison.Ordinal));
        var (_, first) = await SendAsync(client, HttpMethod.Get, "/guardrails?maxResults=2");
        Assert.Equal(2, first.GetProperty("guardrails").GetArrayLength());
        var token = first.GetProperty("nextToken").GetString();
        var (_, second) = await SendAsync(client, HttpMethod.Get, $"/guardrails?maxResults=2&nextToken={token}");
        Assert.Equal(1, second.GetProperty("guardrails").GetArrayLength());
        Assert.False(second.TryGetProperty("nextToken", out _));
        var names = first.GetProperty("guardrails").EnumerateArray().Concat(second.GetProperty("guardrails").EnumerateArray())
            .Select(g => g.GetProperty("name").GetString()).Order().ToList();
        Assert.Equal(["bot-a", "bot-b", "bot-c"], names);
    }

    [Fact]
    public async Task DeleteGuardrail_OneVersionThenAll_GoneWith404()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var id = await CreateAsync(client, Minimal);
        await SendAsync(client, HttpMethod.Post, $"/guardrails/{id}");
        var (dr, _) = await SendAsync(client, HttpMethod.Delete, $"/guardrails/{id}?guardrailVersion=1");
        Assert.Equal(202, (int)dr.StatusCode);
        var (gr, gb) = await SendAsync(client, HttpMethod.Get, $"/guardrails/{id}?guardrailVersion=1");
        AssertError(gr, gb, 404, "ResourceNotFoundException");
        var (all, _) = await SendAsync(client, HttpMethod.Delete, $"/guardrails/{id}");
        Assert.Equal(202, (int)all.StatusCode);
        var (again, ab) = await SendAsync(client, HttpMethod.Get, $"/guardrails/{id}");
        AssertError(again, ab, 404, "ResourceNotFoundException");
    }

    [Fact]
    public async Task CreateGuardrail_DuplicateName_Conflict409()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        await CreateAsync(client, Minimal);
        var (response, body) = await PostAsync(client, "/guardrails", Minimal);
        Assert.Contains("support-bot", AssertError(response, body, 409, "ConflictException"));
    }

    [Theory]
    [InlineData("""{"blockedInputMessaging":"a","blockedOutputsMessaging":"b"}""", "name: is required")]
    [InlineData("""{"name":"bad name!","blockedInputMessaging":"a","blockedOutputsMessaging":"b"}""", "name:")]
    [InlineData("""{"name":"n","blockedInputMessaging":"a"}""", "blockedOutputsMessaging: is required")]
    [InlineData("""{"name":"n","blockedInputMessaging":"a","blockedOutputsMessaging":"b","contentPolicyConfig":{"filtersConfig":[{"type":"GORE","inputStrength":"HIGH","outputStrength":"HIGH"}]}}""", "contentPolicyConfig.filtersConfig[0].type")]
    [InlineData("""{"name":"n","blockedInputMessaging":"a","blockedOutputsMessaging":"b","contentPolicyConfig":{"filtersConfig":[{"type":"PROMPT_ATTACK","inputStrength":"HIGH","outputStrength":"HIGH"}]}}""", "contentPolicyConfig.filtersConfig[0].outputStrength")]
    [InlineData("""{"name":"n","blockedInputMessaging":"a","blockedOutputsMessaging":"b","sensitiveInformationPolicyConfig":{"regexesConfig":[{"name":"r","pattern":"([a-z","action":"BLOCK"}]}}""", "sensitiveInformationPolicyConfig.regexesConfig[0].pattern")]
    [InlineData("""{"name":"n","blockedInputMessaging":"a","blockedOutputsMessaging":"b","contextualGroundingPolicyConfig":{"filtersConfig":[{"type":"GROUNDING","threshold":1.5}]}}""", "contextualGroundingPolicyConfig.filtersConfig[0].threshold")]
    [InlineData("""{"name":"n","blockedInputMessaging":"a","blockedOutputsMessaging":"b","topicPolicyConfig":{"topicsConfig":[{"name":"t","definition":"d","type":"ALLOW"}]}}""", "topicPolicyConfig.topicsConfig[0].type")]
    public async Task CreateGuardrail_Invalid_ValidationExceptionNamesField(string json, string expected)
    {
        var client = await shared.ClientAsync();
        var (response, body) = await PostAsync(client, "/guardrails", json);
        Assert.Contains(expected, AssertError(response, body, 400, "ValidationException"));
    }

    [Fact]
    public async Task GetGuardrail_BadIdentifierOrVersion_ValidationException()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (r1, b1) = await SendAsync(client, HttpMethod.Get, "/guardrails/NOT_AN_ID");
        Assert.Contains("guardrailIdentifier", AssertError(r1, b1, 400, "ValidationException"));
        var id = await CreateAsync(client, Minimal);
        var (r2, b2) = await SendAsync(client, HttpMethod.Get, $"/guardrails/{id}?guardrailVersion=01");
        Assert.Contains("guardrailVersion", AssertError(r2, b2, 400, "ValidationException"));
    }

    [Fact]
    public async Task Guardrails_WithoutKey_Refused()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateAnonymousClient();
        var (response, _) = await PostAsync(client, "/guardrails", Minimal);
        Assert.Equal(403, (int)response.StatusCode);
    }
}

/// <summary>One server for the validation cases (they create nothing), so eight cases do not start eight servers.</summary>
public sealed class SharedServer : IAsyncLifetime
{
    private RunningServer? _server;
    private HttpClient? _client;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    internal Task<HttpClient> ClientAsync() => Task.FromResult(_client ??= _server!.CreateClient());

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_server is not null)
            await _server.DisposeAsync();
    }
}
