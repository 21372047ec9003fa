using Basalt.Core.Catalog;

namespace Basalt.Core.Tests.Catalog;

public sealed class ConfigLoaderTests
{
    [Fact]
    public void Parse_FullCatalog_ReadsProvidersModelsAndAliases()
    {
        const string yaml = """
            server:
              listen: 127.0.0.1:9000
            providers:
              vllm:
                type: openai
                baseUrl: http://127.0.0.1:8000/v1
                apiKeyEnv: VLLM_KEY
            models:
              - id: llama-3-8b
                provider: vllm
                upstreamName: meta-llama/Meta-Llama-3-8B-Instruct
                contextWindow: 8192
                inputPricePerMillion: 0.3
                outputPricePerMillion: 0.6
                capabilities: { tools: true }
                aliases: [llama3]
            """;
        var config = ConfigLoader.Parse(yaml);
        Assert.Equal("127.0.0.1:9000", config.Server.Listen);
        Assert.Equal("openai", config.Providers["vllm"].Type);
        var model = Assert.Single(config.Models);
        Assert.Equal("meta-llama/Meta-Llama-3-8B-Instruct", model.Upstream);
        Assert.Equal(0.6m, model.OutputPricePerMillion);
        Assert.True(model.Capabilities.Tools);
        Assert.True(new ModelCatalog(config.Models).TryResolve("llama3", out var byAlias));
        Assert.Same(model, byAlias);
    }

    [Fact]
    public void Parse_ModelWithUnknownProvider_ErrorNamesTheModelAndProvider()
    {
        const string yaml = """
            models:
              - id: m1
                provider: nowhere
            """;
        var e = Assert.Throws<InvalidDataException>(() => ConfigLoader.Parse(yaml));
        Assert.Contains("m1", e.Message);
        Assert.Contains("nowhere", e.Message);
    }

    [Fact]
    public void Parse_MalformedYaml_ErrorNamesTheLine()
    {
        var e = Assert.Throws<InvalidDataException>(() => ConfigLoader.Parse("providers: [\n  - : :\n"));
        Assert.Contains("line", e.Message);
    }
}
