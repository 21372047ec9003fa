using Microsoft.Extensions.Logging;

namespace Basalt.Server.Hosting;

/// <summary>Source-generated log messages of the server; event ids are stable (1000-1999 hosting).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "Unhandled exception on {Path}")]
    public static partial void UnhandledException(ILogger logger, string path, Exception exception);
}
