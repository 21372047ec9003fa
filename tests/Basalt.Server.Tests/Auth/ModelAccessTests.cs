using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Server.Auth;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Auth;

public sealed class ModelAccessTests
{
    private static readonly ModelCatalog Catalog = new(
    [
        new ModelEntry { Id = "scripted-model", Provider = "fake", Aliases = ["echo"] },
        new ModelEntry { Id = "scripted-tools", Provider = "fake" },
    ]);

    [Theory]
    [InlineData("scripted-model", true)]
    [InlineData("echo", true)]
    [InlineData("scripted-tools", false)]
    [InlineData("no-such-model", false)]
    public void IsAllowed_KeyLimitedByAlias_AllowsEveryNameOfThatModelOnly(string requested, bool allowed)
        => Assert.Equal(allowed, ModelAccessClient.IsAllowed(new Caller("key_1", "k", ["echo"]), requested, Catalog));

    [Fact]
    public void IsAllowed_KeyWithoutList_AllowsEverything()
        => Assert.True(ModelAccessClient.IsAllowed(new Caller("key_1", "k", []), "scripted-tools", Catalog));

    [Fact]
    public async Task ConverseAsync_ModelOutsideAllowList_ThrowsAccessDeniedBeforeTheProvider()
    {
        var provider = new ScriptedProvider();
        using var client = new ModelAccessClient(provider, Catalog);
        Caller.Current = new Caller("key_1", "limited", ["scripted-model"]);
        try
        {
            var request = new ConverseRequest { ModelId = "scripted-tools", Messages = [new Message(ConversationRole.User, [new TextBlock("hi")])] };
            var e = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(request));
            Assert.Equal(ErrorKind.AccessDenied, e.Kind);
            Assert.Contains("'limited' is not allowed to call the model 'scripted-tools'", e.Message);
            Assert.Throws<BasaltException>(() => client.ConverseStreamAsync(request));
            Assert.Empty(provider.Requests);
        }
        finally
        {
            Caller.Current = null;
        }
    }

    [Fact]
    public async Task Request_KeyWithAllowList_ServedForAllowedModelAndDeniedOtherwise()
    {
        await using var server = await RunningServer.StartAsync(configureApp: app => TestEndpoints.Map(app), configureServices: TestEndpoints.AddServices);
        var issued = await server.CreateKeyAsync("limited", models: ["echo"]);
        using var client = server.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issued.Secret);

        using var ok = await client.PostAsync("/test/converse", new StringContent("""{"model":"scripted-model","text":"hi"}""", Encoding.UTF8, "application/json"));
        using var denied = await client.PostAsync("/test/converse", new StringContent("""{"model":"scripted-tools","text":"hi"}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        var body = JsonDocument.Parse(await denied.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("AccessDenied", body.GetProperty("kind").GetString());
        Assert.Single(server.Provider.Requests);
    }
}
