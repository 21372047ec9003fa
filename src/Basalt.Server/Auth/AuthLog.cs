using Microsoft.Extensions.Logging;

namespace Basalt.Server.Auth;

/// <summary>Source-generated log messages of authentication; event ids are stable (2000-2099).</summary>
internal static partial class AuthLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Request {RequestId} refused: {Reason} ({Path})")]
    public static partial void Refused(ILogger logger, string? requestId, AuthFailureReason reason, string path);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Request {RequestId} authenticated as key {KeyName} ({KeyId})")]
    public static partial void Authenticated(ILogger logger, string? requestId, string keyName, string keyId);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Could not record last-used times of {Count} keys")]
    public static partial void LastUsedFlushFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "No API key existed: created admin key '{KeyName}'; its secret is in {Path} (readable only by this user)")]
    public static partial void AdminKeyCreated(ILogger logger, string keyName, string path);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Request {RequestId} denied: key {KeyName} may not call model {ModelId}")]
    public static partial void ModelDenied(ILogger logger, string? requestId, string keyName, string modelId);
}
