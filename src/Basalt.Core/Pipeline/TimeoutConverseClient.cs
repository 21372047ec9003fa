using System.Runtime.CompilerServices;
using Basalt.Core.Conversation;

namespace Basalt.Core.Pipeline;

/// <summary>Fails a call with ModelTimeout when the inner client takes longer than the timeout. A non-streamed call
/// gets the timeout as a whole; a stream gets it for its first event and for every gap between events, so a long
/// generation that keeps producing tokens is not cut off. The caller's own cancellation still surfaces as cancellation.</summary>
public sealed class TimeoutConverseClient(IConverseClient inner, TimeSpan timeout, string providerName) : DelegatingConverseClient(inner)
{
    /// <inheritdoc />
    public override async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            return await Inner.ConverseAsync(request, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (cts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(ex);
        }
    }

    /// <inheritdoc />
    public override async Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            return await Inner.CountTokensAsync(request, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (cts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(ex);
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var events = Inner.ConverseStreamAsync(request, cts.Token).GetAsyncEnumerator(cts.Token);
        try
        {
            while (true)
            {
                cts.CancelAfter(timeout);
                bool has;
                try
                {
                    has = await events.MoveNextAsync().ConfigureAwait(false);
                }
                catch (OperationCanceledException ex) when (cts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw TimedOut(ex);
                }
                // The caller may take its time with an event; that time is not the upstream's.
                cts.CancelAfter(Timeout.InfiniteTimeSpan);
                if (!has)
                    yield break;
                yield return events.Current;
            }
        }
        finally
        {
            await events.DisposeAsync().ConfigureAwait(false);
        }
    }

    private BasaltException TimedOut(Exception inner)
        => new(ErrorKind.ModelTimeout,
            $"The provider '{providerName}' did not answer within {timeout.TotalSeconds:0.###} s. Retry, shorten the request, or raise providers.{providerName}.timeoutSeconds.", inner);
}

/// <summary>Adds <see cref="TimeoutConverseClient"/> to a pipeline.</summary>
public static class TimeoutConverseClientExtensions
{
    /// <summary>Fails calls slower than <paramref name="timeout"/> with ModelTimeout.</summary>
    public static ConverseClientBuilder UseTimeout(this ConverseClientBuilder builder, TimeSpan timeout, string providerName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use(inner => new TimeoutConverseClient(inner, timeout, providerName));
    }
}
