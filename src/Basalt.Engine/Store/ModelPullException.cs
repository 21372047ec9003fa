namespace Basalt.Engine.Store;

/// <summary>A pull failed for a reason the user can act on; the message says what to do.</summary>
public sealed class ModelPullException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Bytes received so far of a download (including bytes resumed from a .partial file).</summary>
public readonly record struct PullProgress(string File, long Received, long? Total, long ResumedFrom);
