using Microsoft.Extensions.Logging;

namespace Basalt.Providers.Local;

/// <summary>Log events of the local provider (ids 4000-4099).</summary>
internal static partial class LocalLog
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Loaded local model '{ModelId}' from {Path} in {Milliseconds} ms ({Megabytes} MB of weights)")]
    public static partial void ModelLoaded(ILogger logger, string modelId, string path, long milliseconds, long megabytes);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Unloaded local model {Path}: idle for longer than the keep-alive of {KeepAlive}")]
    public static partial void ModelUnloadedIdle(ILogger logger, string path, TimeSpan keepAlive);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Unloaded idle local model {Path} to make room for '{ModelId}' within the memory budget")]
    public static partial void ModelEvicted(ILogger logger, string path, string modelId);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Local model '{ModelId}' from {Path}: {Warning}")]
    public static partial void ModelLoadWarning(ILogger logger, string modelId, string path, string warning);
}
