using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Engine.Store;
using Basalt.Providers.Local;
using Basalt.Tests.Common;

namespace Basalt.Providers.Tests.Local;

/// <summary>A model pulled into the store is served by its registered name in a catalog entry's path.</summary>
public sealed class PulledModelTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("basalt-data-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private sealed class ConfigServices(BasaltConfig config) : IServiceProvider
    {
        public object? GetService(Type serviceType) => serviceType == typeof(BasaltConfig) ? config : null;
    }

    [Fact]
    public async Task Create_PathIsAPulledModelsName_ConversesWithThePulledFile()
    {
        var source = SharedFiles.Path("models/stories260K.gguf");
        if (source is null)
            return;
        using var hub = new FakeHub();
        hub.Add("karpathy/tinyllamas", "stories260K.gguf", File.ReadAllBytes(source));
        var store = new ModelStore(ModelStore.ResolveDirectory(null, _dataDir));
        using (var http = ModelPuller.CreateHttpClient())
            await new ModelPuller(store, http, hub.Endpoint, null).PullAsync(ModelReference.Parse("karpathy/tinyllamas"), null, CancellationToken.None);
        var config = new BasaltConfig { Server = new ServerConfig { DataDir = _dataDir } };
        var entry = new ModelEntry { Id = "stories", Provider = "local", Path = "karpathy/tinyllamas:stories260K.gguf", ContextWindow = 128 };

        using var client = new LocalProviderFactory().Create(new ProviderContext("local", new ProviderConfig { Type = "local" }, [entry], new ConfigServices(config)));
        var response = await client.ConverseAsync(new ConverseRequest
        {
            ModelId = "stories",
            Messages = [new Message(ConversationRole.User, [new TextBlock("Once upon a time")])],
            InferenceConfig = new InferenceConfig { MaxTokens = 5, Temperature = 0 },
        });

        Assert.Equal(5, response.Usage.OutputTokens);
        Assert.NotEmpty(response.Output.Content.OfType<TextBlock>().Single().Text);
    }

    [Fact]
    public void ResolveRegisteredNames_UnknownNameAndRealFile_LeavesThemForTheProviderToReport()
    {
        var file = Path.Combine(_dataDir, "x.gguf");
        File.WriteAllText(file, "x");
        var store = new ModelStore(Path.Combine(_dataDir, "models"));

        var models = LocalProviderFactory.ResolveRegisteredNames(
            [new ModelEntry { Id = "a", Provider = "local", Path = "acme/none:y.gguf" }, new ModelEntry { Id = "b", Provider = "local", Path = file }], store);

        Assert.Equal(["acme/none:y.gguf", file], models.Select(m => m.Path));
    }
}
