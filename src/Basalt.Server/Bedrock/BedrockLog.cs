using Microsoft.Extensions.Logging;

namespace Basalt.Server.Bedrock;

/// <summary>Source-generated log messages of the Bedrock face; event ids are stable (2000-2099).</summary>
internal static partial class BedrockLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Stream on {Path} failed after it began; sent an internalServerException frame")]
    public static partial void StreamFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Stream on {Path} ended with a {ExceptionType} frame: {Message}")]
    public static partial void StreamError(ILogger logger, string path, string exceptionType, string message);
}
