using Microsoft.Extensions.Logging;

namespace Basalt.Server.Operations;

/// <summary>Source-generated log messages of operations; event ids are stable (2100-2199).</summary>
internal static partial class OperationsLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Debug, Message = "Request {RequestId} {Method} {Path} -> {Status} in {ElapsedMs:0.0} ms")]
    public static partial void RequestServed(ILogger logger, string? requestId, string method, string path, int status, double elapsedMs);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Shutting down: waiting up to {Seconds} s for requests in flight")]
    public static partial void Draining(ILogger logger, int seconds);
}
