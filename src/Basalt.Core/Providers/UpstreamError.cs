using System.Net;
using Basalt.Core.Conversation;

namespace Basalt.Core.Providers;

/// <summary>Turns an upstream's HTTP failure into a <see cref="BasaltException"/> whose message names the provider,
/// and says which failures are worth retrying (429, 5xx, connection errors).</summary>
public static class UpstreamError
{
    private const string RetryableKey = "basalt.retryable";
    private const string RetryAfterKey = "basalt.retryAfter";

    /// <summary>The exception for an upstream's error status; <paramref name="detail"/> is the upstream's own message.</summary>
    public static BasaltException FromStatus(string provider, int status, string? detail)
    {
        var said = string.IsNullOrWhiteSpace(detail) ? "" : $": {detail}";
        var (kind, text, retryable) = status switch
        {
            400 or 413 or 422 => (ErrorKind.Validation, $"The upstream provider '{provider}' rejected the request (HTTP {status}){said}", false),
            401 or 403 => (ErrorKind.AccessDenied, $"The upstream provider '{provider}' rejected Basalt's own credentials for it (HTTP {status}), not yours{said}. The operator must fix the provider's apiKey/apiKeyEnv or AWS credentials in basalt.yaml.", false),
            404 => (ErrorKind.ResourceNotFound, $"The upstream provider '{provider}' does not know this model or endpoint (HTTP 404){said}. Check the model's upstreamName and the provider's baseUrl.", false),
            408 => (ErrorKind.ModelTimeout, $"The upstream provider '{provider}' timed out (HTTP 408){said}", false),
            409 => (ErrorKind.Conflict, $"The upstream provider '{provider}' reported a conflict (HTTP 409){said}", false),
            429 => (ErrorKind.Throttling, $"The upstream provider '{provider}' is throttling requests (HTTP 429){said}. Retry later or lower the request rate.", true),
            502 or 503 or 504 or 529 => (ErrorKind.ServiceUnavailable, $"The upstream provider '{provider}' is unavailable (HTTP {status}){said}. Retry later.", true),
            >= 500 => (ErrorKind.ModelError, $"The upstream provider '{provider}' failed while processing the request (HTTP {status}){said}", true),
            _ => (ErrorKind.ModelError, $"The upstream provider '{provider}' answered with an unexpected HTTP {status}{said}", false),
        };
        return Mark(new BasaltException(kind, text), retryable);
    }

    /// <summary>The exception for an upstream that could not be reached (refused, reset, DNS); retryable.</summary>
    public static BasaltException Unreachable(string provider, Exception inner)
        => Mark(new BasaltException(ErrorKind.ServiceUnavailable,
            $"The upstream provider '{provider}' could not be reached ({inner.Message}). Check that it is running and that its baseUrl is right.", inner), true);

    /// <summary>The exception for an upstream that answered with something Basalt cannot parse.</summary>
    public static BasaltException Malformed(string provider, string what, Exception? inner = null)
        => new(ErrorKind.ModelError, $"The upstream provider '{provider}' sent a response Basalt could not read: {what}.", inner);

    /// <summary>Marks an exception as retryable or not.</summary>
    public static BasaltException Mark(BasaltException exception, bool retryable)
    {
        ArgumentNullException.ThrowIfNull(exception);
        exception.Data[RetryableKey] = retryable;
        return exception;
    }

    /// <summary>Records how long the upstream asked to wait before retrying (its Retry-After header).</summary>
    public static BasaltException WithRetryAfter(BasaltException exception, TimeSpan? delay)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (delay is { } d && d > TimeSpan.Zero)
            exception.Data[RetryAfterKey] = d;
        return exception;
    }

    /// <summary>How long the upstream asked to wait before retrying, or null.</summary>
    public static TimeSpan? RetryAfter(Exception exception) => exception.Data[RetryAfterKey] as TimeSpan?;

    /// <summary>True for failures a retry may cure: 429, 5xx, throttling and unavailability, connection errors.</summary>
    public static bool IsRetryable(Exception exception) => exception switch
    {
        BasaltException b when b.Data[RetryableKey] is bool marked => marked,
        BasaltException b => b.Kind is ErrorKind.Throttling or ErrorKind.ServiceUnavailable or ErrorKind.ModelNotReady,
        HttpRequestException or IOException => true,
        _ => false,
    };
}
