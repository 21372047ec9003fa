using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Providers;
using Basalt.Server.Tests.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Tests.Bedrock;

/// <summary>The Bedrock upstream provider talking to a real Basalt's Bedrock face, which verifies its SigV4
/// signatures with an issued AWS key: one Basalt can front another as if it were Bedrock.</summary>
public sealed class BedrockUpstreamRoundTripTests
{
    private static ModelRouter Gateway(RunningServer upstream, string? secret = null)
    {
        var config = new BasaltConfig
        {
            Providers = new Dictionary<string, ProviderConfig>
            {
                ["upstream-basalt"] = new()
                {
                    Type = "bedrock",
                    BaseUrl = upstream.BaseAddress.ToString(),
                    Region = "us-east-1",
                    AccessKeyId = upstream.AwsAccessKeyId,
                    SecretAccessKey = secret ?? upstream.AwsSecretAccessKey,
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
        Messages = [new Message(ConversationRole.User, [new TextBlock("hello over two hops")])],
        InferenceConfig = new InferenceConfig { MaxTokens = 32 },
    };

    [Fact]
    public async Task ConverseAsync_ThroughBasaltBedrockFace_ReturnsUpstreamAnswer()
    {
        await using var upstream = await RunningServer.StartAsync();
        using var gateway = Gateway(upstream);

        var response = await gateway.ConverseAsync(Hello());

        Assert.Equal("echo: hello over two hops", Assert.IsType<TextBlock>(Assert.Single(response.Output.Content)).Text);
        Assert.Equal("scripted-model", Assert.Single(upstream.Provider.Requests).ModelId);
        Assert.Equal(32, upstream.Provider.Requests[0].InferenceConfig?.MaxTokens);
    }

    [Fact]
    public async Task ConverseStreamAsync_ThroughBasaltBedrockFace_DecodesEventStream()
    {
        await using var upstream = await RunningServer.StartAsync();
        using var gateway = Gateway(upstream);

        var events = new List<ConverseStreamEvent>();
        await foreach (var e in gateway.ConverseStreamAsync(Hello()))
            events.Add(e);

        Assert.IsType<MessageStartEvent>(events[0]);
        var text = string.Concat(events.OfType<ContentBlockDeltaEvent>().Select(d => ((TextDelta)d.Delta).Text));
        Assert.Equal("echo: hello over two hops", text);
        Assert.IsType<MessageStopEvent>(events[^2]);
        Assert.IsType<MetadataEvent>(events[^1]);
    }

    [Fact]
    public async Task CountTokensAsync_ThroughBasaltBedrockFace_ReturnsUpstreamCount()
    {
        await using var upstream = await RunningServer.StartAsync();
        using var gateway = Gateway(upstream);

        var count = await gateway.CountTokensAsync(Hello());

        Assert.Equal(await upstream.Provider.CountTokensAsync(Hello()), count);
        Assert.True(count > 0);
    }

    [Fact]
    public async Task ConverseAsync_WrongSecret_FaceRejectsSignatureAsUpstreamAccessDenied()
    {
        await using var upstream = await RunningServer.StartAsync();
        using var gateway = Gateway(upstream, secret: "wrong-secret-wrong-secret-wrong-secret-0");

        var ex = await Assert.ThrowsAsync<BasaltException>(() => gateway.ConverseAsync(Hello()));

        Assert.Equal(ErrorKind.AccessDenied, ex.Kind);
        Assert.Contains("upstream-basalt", ex.Message);
        Assert.Empty(upstream.Provider.Requests);
    }
}
