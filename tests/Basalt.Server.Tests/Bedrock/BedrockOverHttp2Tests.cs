using System.Net;
using System.Text;
using Basalt.Core.Aws;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Bedrock;

/// <summary>The AWS SDK for JavaScript's BedrockRuntimeClient speaks HTTP/2 with prior knowledge to http:// endpoints;
/// the same port must keep serving HTTP/1.1.</summary>
public sealed class BedrockOverHttp2Tests
{
    private const string Body = """{"messages":[{"role":"user","content":[{"text":"over h2"}]}]}""";

    private static HttpRequestMessage Request(string path, Version version) => new(HttpMethod.Post, path)
    {
        Version = version,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Content = new StringContent(Body, Encoding.UTF8, "application/json"),
    };

    [Fact]
    public async Task Converse_Http2PriorKnowledge_IsServedOverHttp2()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.SendAsync(Request("/model/scripted-model/converse", HttpVersion.Version20));
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Contains("echo: over h2", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ConverseStream_Http2PriorKnowledge_StreamsEventFrames()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.SendAsync(Request("/model/scripted-model/converse-stream", HttpVersion.Version20), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpVersion.Version20, response.Version);
        await using var body = await response.Content.ReadAsStreamAsync();
        var types = new List<string?>();
        await foreach (var m in EventStreamDecoder.ReadAllAsync(body))
            types.Add(m.StringHeader(":event-type"));
        Assert.Equal("messageStart", types[0]);
        Assert.Equal("metadata", types[^1]);
    }

    [Fact]
    public async Task Converse_Http11OnTheSamePort_StillServedOverHttp11()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.SendAsync(Request("/model/scripted-model/converse", HttpVersion.Version11));
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal(200, (int)response.StatusCode);
    }
}
