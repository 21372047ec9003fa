using System.Text.Json;
using Basalt.Core.Bedrock;

namespace Basalt.Core.Tests.Bedrock;

public sealed class ConverseRequestReaderToolsTests
{
    [Fact]
    public void Tools_CachePointAfterToolSpecs_KeepsCachePointWithTtl()
    {
        using var doc = JsonDocument.Parse("""
            {"tools":[{"toolSpec":{"name":"top_song","inputSchema":{"json":{"type":"object"}}}},{"cachePoint":{"type":"default","ttl":"1h"}}]}
            """);

        var config = ConverseRequestReader.Tools(doc.RootElement, "toolConfig");

        Assert.Single(config.Tools);
        Assert.Equal("1h", config.CachePoint?.Ttl);
    }

    [Fact]
    public void Tools_NoCachePoint_LeavesCachePointNull()
    {
        using var doc = JsonDocument.Parse("""{"tools":[{"toolSpec":{"name":"top_song","inputSchema":{"json":{"type":"object"}}}}]}""");

        Assert.Null(ConverseRequestReader.Tools(doc.RootElement, "toolConfig").CachePoint);
    }
}
