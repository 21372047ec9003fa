namespace Basalt.Core.Conversation;

/// <summary>The kinds of failure a caller can see; each face maps them to its own error format
/// (Bedrock: x-amzn-ErrorType and status; OpenAI: error.type and status).</summary>
public enum ErrorKind
{
    /// <summary>The request is malformed or breaks a constraint (400).</summary>
    Validation,
    /// <summary>The caller lacks a valid key or the permission (403; OpenAI uses 401 for a missing or bad key).</summary>
    AccessDenied,
    /// <summary>The model or resource does not exist (404).</summary>
    ResourceNotFound,
    /// <summary>The model took too long (408).</summary>
    ModelTimeout,
    /// <summary>The model or upstream failed while processing (424).</summary>
    ModelError,
    /// <summary>Too many requests (429).</summary>
    Throttling,
    /// <summary>A bug or unexpected failure (500).</summary>
    InternalServer,
    /// <summary>The service or upstream is unavailable (503).</summary>
    ServiceUnavailable,
    /// <summary>The model is not ready to serve (429 in Bedrock).</summary>
    ModelNotReady,
    /// <summary>A quota or budget is exhausted (400 in Bedrock's ServiceQuotaExceededException).</summary>
    ServiceQuotaExceeded,
    /// <summary>The request conflicts with the current state of a resource (409).</summary>
    Conflict,
}

/// <summary>An expected failure with a message that tells the caller what to do.</summary>
public sealed class BasaltException(ErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>What kind of failure this is.</summary>
    public ErrorKind Kind { get; } = kind;

    /// <summary>A 400 ValidationException.</summary>
    public static BasaltException Validation(string message) => new(ErrorKind.Validation, message);

    /// <summary>A 404 ResourceNotFoundException.</summary>
    public static BasaltException NotFound(string message) => new(ErrorKind.ResourceNotFound, message);
}
