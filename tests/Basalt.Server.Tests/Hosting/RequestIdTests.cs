using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Hosting;

public sealed class RequestIdTests
{
    [Fact]
    public async Task AnyRequest_Response_CarriesAwsRequestId()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync("/no-such-path");
        Assert.True(response.Headers.TryGetValues("x-amzn-RequestId", out var ids));
        Assert.True(Guid.TryParse(ids.Single(), out _));
    }
}
