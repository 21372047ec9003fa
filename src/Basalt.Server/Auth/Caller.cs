namespace Basalt.Server.Auth;

/// <summary>The authenticated key behind the current request, for authorization and metering.</summary>
/// <param name="KeyId">The key's id.</param>
/// <param name="KeyName">The key's name (the metrics label).</param>
/// <param name="AllowedModels">Model ids or aliases the key may call; empty means every model.</param>
public sealed record Caller(string KeyId, string KeyName, IReadOnlyList<string> AllowedModels)
{
    private static readonly AsyncLocal<Caller?> Ambient = new();

    /// <summary>The caller of the request this code runs for, or null outside an authenticated request.</summary>
    public static Caller? Current
    {
        get => Ambient.Value;
        internal set => Ambient.Value = value;
    }

    /// <summary>Metrics label for calls without an authenticated caller (in-process use).</summary>
    public const string AnonymousLabel = "-";
}
