using System.Runtime.CompilerServices;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Core.Pipeline;

/// <summary>How a <see cref="RetryingConverseClient"/> retries.</summary>
public sealed record RetryOptions
{
    /// <summary>Retries after the first attempt.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>Upper bound of the first backoff; each later one doubles.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Largest backoff.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(8);
}

/// <summary>Retries calls that fail with 429, 5xx or a connection error, with full-jitter exponential backoff
/// (or the upstream's Retry-After when it sends one).
/// A stream is retried only before it has yielded its first event: after that the caller has seen output.</summary>
public sealed class RetryingConverseClient(IConverseClient inner, RetryOptions options) : DelegatingConverseClient(inner)
{
    private readonly RetryOptions _options = options ?? throw new ArgumentNullException(nameof(options));

    /// <inheritdoc />
    public override async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await Inner.ConverseAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ShouldRetry(ex, attempt, cancellationToken))
            {
                await Task.Delay(Delay(ex, attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public override async Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await Inner.CountTokensAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ShouldRetry(ex, attempt, cancellationToken))
            {
                await Task.Delay(Delay(ex, attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            var events = Inner.ConverseStreamAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
            bool hasFirst;
            TimeSpan? retry = null;
            try
            {
                hasFirst = await events.MoveNextAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                await events.DisposeAsync().ConfigureAwait(false);
                if (!ShouldRetry(ex, attempt, cancellationToken))
                    throw;
                hasFirst = false;
                retry = Delay(ex, attempt);
            }
            if (retry is { } delay)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                for (var has = hasFirst; has; has = await events.MoveNextAsync().ConfigureAwait(false))
                    yield return events.Current;
            }
            finally
            {
                await events.DisposeAsync().ConfigureAwait(false);
            }
            yield break;
        }
    }

    private bool ShouldRetry(Exception ex, int attempt, CancellationToken cancellationToken)
        => attempt < _options.MaxRetries && !cancellationToken.IsCancellationRequested && UpstreamError.IsRetryable(ex);

    // The upstream's Retry-After wins over our own backoff, within MaxDelay.
    private TimeSpan Delay(Exception ex, int attempt)
        => UpstreamError.RetryAfter(ex) is { } asked ? (asked < _options.MaxDelay ? asked : _options.MaxDelay) : Backoff(attempt);

    // Full jitter: a uniform delay in [0, min(max, base * 2^attempt)], so clients that failed together spread out.
    private TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_options.MaxDelay.TotalMilliseconds, _options.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }
}

/// <summary>Adds <see cref="RetryingConverseClient"/> to a pipeline.</summary>
public static class RetryingConverseClientExtensions
{
    /// <summary>Retries 429, 5xx and connection failures (streams only before their first event).</summary>
    public static ConverseClientBuilder UseRetries(this ConverseClientBuilder builder, RetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use(inner => new RetryingConverseClient(inner, options));
    }
}
