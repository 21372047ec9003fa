using Basalt.Core.Conversation;

namespace Basalt.Core.Pipeline;

/// <summary>Builds a pipeline of decorators around an inner client; the first added is the outermost.</summary>
public sealed class ConverseClientBuilder(IConverseClient inner)
{
    private readonly List<Func<IConverseClient, IConverseClient>> _factories = [];

    /// <summary>Adds a decorator.</summary>
    public ConverseClientBuilder Use(Func<IConverseClient, IConverseClient> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _factories.Add(factory);
        return this;
    }

    /// <summary>Builds the pipeline.</summary>
    public IConverseClient Build()
    {
        var client = inner;
        for (var i = _factories.Count - 1; i >= 0; i--)
            client = _factories[i](client);
        return client;
    }
}
