using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Basalt.Server.Auth;

/// <summary>What `basalt serve` does about keys at startup: on loopback with no usable key it creates an admin key and writes it to
/// DATA_DIR/admin-key (mode 0600); elsewhere with no usable key it refuses to start, since the server would be open to no one.</summary>
public static class AdminKey
{
    /// <summary>File name of the bootstrap key inside the data directory.</summary>
    public const string FileName = "admin-key";

    /// <summary>Name of the bootstrap key.</summary>
    public const string KeyName = "admin";

    /// <summary>The outcome of <see cref="EnsureAsync"/>.</summary>
    /// <param name="Created">True when an admin key was created now.</param>
    /// <param name="Path">Where the admin key was written, when created.</param>
    /// <param name="Refusal">When not null, the server must not start; the text tells the operator what to do.</param>
    public sealed record Outcome(bool Created, string? Path, string? Refusal);

    /// <summary>True when host:port names a loopback address (127.0.0.0/8, ::1, localhost).</summary>
    public static bool IsLoopback(string listen)
    {
        var host = listen;
        if (host.StartsWith('['))
            host = host[1..host.IndexOf(']')];
        else if (host.LastIndexOf(':') is var colon && colon > 0 && host.IndexOf(':') == colon)
            host = host[..colon];
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }

    /// <summary>Creates the admin key when needed, or says why the server must not start.</summary>
    public static async Task<Outcome> EnsureAsync(ApiKeys keys, string listen, string dataDir, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        if (await keys.Store.CountUsableKeysAsync(DateTimeOffset.UtcNow, cancellationToken) > 0)
            return new Outcome(false, null, null);
        if (!IsLoopback(listen))
            return new Outcome(false, null,
                $"refusing to listen on {listen} with no API keys: anyone could reach it but no one could authenticate. "
                + $"Create a key first with `basalt keys create --name NAME --data-dir {dataDir}`, or listen on 127.0.0.1 to get an admin key created for you.");
        var path = Path.Combine(dataDir, FileName);
        if (File.Exists(path))
            File.Delete(path); // A stale file from a key since revoked; the new key replaces it.
        var issued = await keys.CreateAsync(KeyName + "-" + DateTimeOffset.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture), aws: false, cancellationToken: cancellationToken);
        SecretFile.WriteNew(path, Encoding.UTF8.GetBytes(issued.Secret + "\n"));
        var full = Path.GetFullPath(path);
        if (logger is not null)
            AuthLog.AdminKeyCreated(logger, issued.Record.Name, full);
        return new Outcome(true, full, null);
    }
}
