using System.Net;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Hosting;

public sealed class CleartextHttp2Tests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 0)]
    public async Task SamePort_Http11AndPriorKnowledgeH2c_BothServed(int major, int minor)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/healthz")
        {
            Version = new Version(major, minor),
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Version(major, minor), response.Version);
    }
}
