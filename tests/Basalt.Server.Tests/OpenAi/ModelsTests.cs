using System.Net;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>GET /v1/models and GET /v1/models/{id}.</summary>
public sealed class ModelsTests
{
    private static Task<RunningServer> StartWithSlashedIdAsync() => RunningServer.StartAsync(c => c with
    {
        Models = [.. c.Models, new ModelEntry { Id = "meta/llama-3-8b", Provider = "fake", Aliases = ["llama"] }],
    });

    [Fact]
    public async Task ListModels_Catalog_ListsEveryModelInOpenAiShape()
    {
        await using var server = await StartWithSlashedIdAsync();
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.GetAsync(client, "v1/models");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var data = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["scripted-model", "scripted-tools", "meta/llama-3-8b"], data.Select(m => m.GetProperty("id").GetString()));
        Assert.All(data, m =>
        {
            Assert.Equal("model", m.GetProperty("object").GetString());
            Assert.True(m.GetProperty("created").GetInt64() > 1_700_000_000);
        });
        Assert.Equal("Basalt", data[0].GetProperty("owned_by").GetString());
        Assert.Equal("fake", data[1].GetProperty("owned_by").GetString());
    }

    [Theory]
    [InlineData("v1/models/meta/llama-3-8b")]
    [InlineData("v1/models/meta%2Fllama-3-8b")]
    [InlineData("v1/models/llama")]
    public async Task GetModel_IdWithSlashOrAlias_ReturnsTheModel(string path)
    {
        await using var server = await StartWithSlashedIdAsync();
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.GetAsync(client, path);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("meta/llama-3-8b", body.GetProperty("id").GetString());
        Assert.Equal("model", body.GetProperty("object").GetString());
    }

    [Fact]
    public async Task GetModel_Unknown_Is404ModelNotFound()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.GetAsync(client, "v1/models/gpt-9");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", OpenAiHttp.Error(body, "invalid_request_error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ChatCompletions_ModelIdWithSlash_IsServed()
    {
        await using var server = await StartWithSlashedIdAsync();
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.PostChatAsync(client, """{"model":"meta/llama-3-8b","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("meta/llama-3-8b", body.GetProperty("model").GetString());
        Assert.Equal(JsonValueKind.String, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").ValueKind);
    }
}
