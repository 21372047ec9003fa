using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Server.Tests.Fakes;
using static Basalt.Server.Tests.Bedrock.BedrockHttp;

namespace Basalt.Server.Tests.Bedrock;

public sealed class FoundationModelsTests
{
    private static Task<RunningServer> StartWithEmbedderAsync() => RunningServer.StartAsync(c => c with
    {
        Models = [.. c.Models, new ModelEntry { Id = "embed-small", Provider = "fake", ProviderName = "Acme", Capabilities = new ModelCapabilities { Embeddings = true } }],
    });

    private static async Task<(HttpResponseMessage, JsonElement)> GetAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response, doc.RootElement.Clone());
    }

    [Fact]
    public async Task ListFoundationModels_NoFilter_ListsTheCatalogWithSummaries()
    {
        await using var server = await StartWithEmbedderAsync();
        using var client = server.CreateClient();
        var (response, body) = await GetAsync(client, "/foundation-models");
        Assert.Equal(200, (int)response.StatusCode);
        var models = body.GetProperty("modelSummaries").EnumerateArray().ToList();
        Assert.Equal(["scripted-model", "scripted-tools", "embed-small"], models.Select(m => m.GetProperty("modelId").GetString()));
        var first = models[0];
        Assert.Equal("arn:aws:bedrock:local::foundation-model/scripted-model", first.GetProperty("modelArn").GetString());
        Assert.Equal("Scripted Model", first.GetProperty("modelName").GetString());
        Assert.Equal("Basalt", first.GetProperty("providerName").GetString());
        Assert.Equal(["TEXT"], first.GetProperty("inputModalities").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(["TEXT"], first.GetProperty("outputModalities").EnumerateArray().Select(x => x.GetString()));
        Assert.True(first.GetProperty("responseStreamingSupported").GetBoolean());
        Assert.Empty(first.GetProperty("customizationsSupported").EnumerateArray());
        Assert.Equal(["ON_DEMAND"], first.GetProperty("inferenceTypesSupported").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("ACTIVE", first.GetProperty("modelLifecycle").GetProperty("status").GetString());
        Assert.Equal("EMBEDDING", models[2].GetProperty("outputModalities")[0].GetString());
    }

    [Theory]
    [InlineData("?byProvider=acme", new[] { "embed-small" })]
    [InlineData("?byProvider=Basalt", new[] { "scripted-model" })]
    [InlineData("?byProvider=Nobody", new string[0])]
    [InlineData("?byOutputModality=EMBEDDING", new[] { "embed-small" })]
    [InlineData("?byOutputModality=TEXT", new[] { "scripted-model", "scripted-tools" })]
    [InlineData("?byInferenceType=ON_DEMAND", new[] { "scripted-model", "scripted-tools", "embed-small" })]
    [InlineData("?byInferenceType=PROVISIONED", new string[0])]
    [InlineData("?byCustomizationType=FINE_TUNING", new string[0])]
    public async Task ListFoundationModels_Filter_SelectsMatchingModels(string query, string[] expected)
    {
        await using var server = await StartWithEmbedderAsync();
        using var client = server.CreateClient();
        var (response, body) = await GetAsync(client, "/foundation-models" + query);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(expected, body.GetProperty("modelSummaries").EnumerateArray().Select(m => m.GetProperty("modelId").GetString()));
    }

    [Theory]
    [InlineData("?byOutputModality=VIDEO", "byOutputModality")]
    [InlineData("?byInferenceType=SPOT", "byInferenceType")]
    [InlineData("?byCustomizationType=MAGIC", "byCustomizationType")]
    public async Task ListFoundationModels_BadFilterValue_IsValidation(string query, string field)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await GetAsync(client, "/foundation-models" + query);
        Assert.StartsWith(field, AssertError(response, body, 400, "ValidationException"));
    }

    [Theory]
    [InlineData("scripted-model")]
    [InlineData("echo")]
    [InlineData("arn%3Aaws%3Abedrock%3Alocal%3A%3Afoundation-model%2Fscripted-model")]
    public async Task GetFoundationModel_IdAliasOrArn_ReturnsDetails(string identifier)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await GetAsync(client, "/foundation-models/" + identifier);
        Assert.Equal(200, (int)response.StatusCode);
        var details = body.GetProperty("modelDetails");
        Assert.Equal("scripted-model", details.GetProperty("modelId").GetString());
        Assert.Equal("arn:aws:bedrock:local::foundation-model/scripted-model", details.GetProperty("modelArn").GetString());
    }

    [Fact]
    public async Task GetFoundationModel_Unknown_Is404()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await GetAsync(client, "/foundation-models/nope");
        Assert.Contains("nope", AssertError(response, body, 404, "ResourceNotFoundException"));
    }
}
