namespace Basalt.Core.Conversation;

/// <summary>The one contract every provider and every decorator implements.</summary>
public interface IConverseClient : IDisposable
{
    /// <summary>Runs one non-streamed call.</summary>
    Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default);

    /// <summary>Runs one streamed call; events arrive in ConverseStream order.</summary>
    IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, CancellationToken cancellationToken = default);

    /// <summary>Counts the input tokens the request would use.</summary>
    Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default);

    /// <summary>Returns a service of the given type exposed by this client or one it wraps, or null.</summary>
    object? GetService(Type serviceType, object? serviceKey = null);
}

/// <summary>A decorator base that forwards every member to an inner client.</summary>
public abstract class DelegatingConverseClient(IConverseClient inner) : IConverseClient
{
    /// <summary>The wrapped client.</summary>
    protected IConverseClient Inner { get; } = inner ?? throw new ArgumentNullException(nameof(inner));

    /// <inheritdoc />
    public virtual Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
        => Inner.ConverseAsync(request, cancellationToken);

    /// <inheritdoc />
    public virtual IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, CancellationToken cancellationToken = default)
        => Inner.ConverseStreamAsync(request, cancellationToken);

    /// <inheritdoc />
    public virtual Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
        => Inner.CountTokensAsync(request, cancellationToken);

    /// <inheritdoc />
    public virtual object? GetService(Type serviceType, object? serviceKey = null)
        => serviceType.IsInstanceOfType(this) && serviceKey is null ? this : Inner.GetService(serviceType, serviceKey);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the inner client.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
            Inner.Dispose();
    }
}
