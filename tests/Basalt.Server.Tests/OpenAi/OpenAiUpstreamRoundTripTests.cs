using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Providers;
using Basalt.Server.Tests.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>The OpenAI-compatible upstream provider talking to a real Basalt's OpenAI face with an issued Bearer key.</summary>
public sealed class OpenAiUpstreamRoundTripTests
{
    private static ModelRouter Gateway(RunningServer upstream, string? key = null)
    {
        var config = new BasaltConfig
        {
            Providers = new Dictionary<string, ProviderConfig>
            {
                ["upstream-basalt"] = new()
                {
                    Type = "openai",
                    BaseUrl = new Uri(upstream.BaseAddress, "v1").ToString(),
                    ApiKey = key ?? upstream.ApiKey,
                    MaxRetries = 0,
                    TimeoutSeconds = 30,
                },
            },
            Models = [new ModelEntry { Id = "front", Provider = "upstream-basalt", UpstreamName = "scripted-model" }],
        };
        var services = new ServiceCollection().AddBasaltProviders().BuildServiceProvider();
        return ModelRouter.Create(config, services.GetServices<IProviderFactory>(), services);
    }

    private static ConverseRequest Hello() => new()
    {
        ModelId = "front",
        System = [new TextBlock("Be brief.")],
        Messages = [new Message(ConversationRole.User, [new TextBlock("hello over two hops")])],
        InferenceConfig = new InferenceConfig { MaxTokens = 32, Temperature = 0.1f },
    };

    [Fact]
    public async Task ConverseAsync_ThroughBasaltOpenAiFace_ReturnsUpstreamAnswerAndUsage()
    {
        await using var upstream = await RunningServer.StartAsync();
        using var gateway = Gateway(upstream);

        var response = await gateway.ConverseAsync(Hello());

        Assert.Equal("echo: hello over two hops", Assert.IsType<TextBlock>(Assert.Single(response.Output.Content)).Text);
        Assert.Equal(StopReason.EndTurn, response.StopReason);
        Assert.True(response.Usage.OutputTokens > 0);
        var seen = Assert.Single(upstream.Provider.Requests);
        Assert.Equal("scripted-model", seen.ModelId);
        Assert.Equal("Be brief.", Assert.IsType<TextBlock>(Assert.Single(seen.System)).Text);
        Assert.Equal(32, seen.InferenceConfig?.MaxTokens);
    }

    [Fact]
    public async Task ConverseStreamAsync_ThroughBasaltOpenAiFace_StreamsTextAndUsage()
    {
        await using var upstream = await RunningServer.StartAsync();
        using var gateway = Gateway(upstream);

        var events = new List<ConverseStreamEvent>();
        await foreach (var e in gateway.ConverseStreamAsync(Hello()))
            events.Add(e);

        var text = string.Concat(events.OfType<ContentBlockDeltaEvent>().Select(d => ((TextDelta)d.Delta).Text));
        Assert.Equal("echo: hello over two hops", text);
        Assert.Equal(StopReason.EndTurn, Assert.IsType<MessageStopEvent>(events[^2]).StopReason);
        Assert.True(Assert.IsType<MetadataEvent>(events[^1]).Usage.OutputTokens > 0);
    }

    [Fact]
    public async Task ConverseAsync_WrongKey_FaceRejectsAsUpstreamAccessDenied()
    {
        await using var upstream = await RunningServer.StartAsync();
        using var gateway = Gateway(upstream, key: "bsk-not-a-real-key");

        var ex = await Assert.ThrowsAsync<BasaltException>(() => gateway.ConverseAsync(Hello()));

        Assert.Equal(ErrorKind.AccessDenied, ex.Kind);
        Assert.Contains("not yours", ex.Message);
        Assert.Empty(upstream.Provider.Requests);
    }
}
