using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Basalt.Server.State;

namespace Basalt.Server.Auth;

/// <summary>A key just created: the only time its secret exists outside the caller's hands.</summary>
/// <param name="Record">What was stored.</param>
/// <param name="Secret">The Bearer key ("bsk-...") or the AWS secret access key.</param>
public sealed record IssuedKey(ApiKeyRecord Record, string Secret);

/// <summary>Why a credential was refused; each reason has its own message and its own AWS error code.</summary>
public enum AuthFailureReason
{
    /// <summary>No Authorization header.</summary>
    Missing,
    /// <summary>An Authorization header in no supported scheme, or malformed.</summary>
    Malformed,
    /// <summary>No key with this secret or access key id.</summary>
    UnknownKey,
    /// <summary>The key was revoked.</summary>
    Revoked,
    /// <summary>The key expired.</summary>
    Expired,
    /// <summary>The Signature V4 signature does not match.</summary>
    BadSignature,
    /// <summary>x-amz-date is outside the allowed clock skew.</summary>
    StaleTimestamp,
    /// <summary>The body's SHA-256 differs from x-amz-content-sha256.</summary>
    PayloadMismatch,
}

/// <summary>A refused credential.</summary>
public sealed record AuthFailure(AuthFailureReason Reason, string Message);

/// <summary>Creates, verifies and revokes API keys over the state store.</summary>
public sealed class ApiKeys
{
    /// <summary>Prefix of Bearer keys.</summary>
    public const string BearerPrefix = "bsk-";

    /// <summary>Prefix of AWS access key ids (AWS's own start with AKIA).</summary>
    public const string AccessKeyIdPrefix = "BKIA";

    /// <summary>Random bytes in every secret: 256 bits, so guessing is hopeless and a fast hash is enough.</summary>
    public const int SecretBytes = 32;

    /// <summary>Longest Authorization header accepted, in characters.</summary>
    public const int MaxCredentialLength = 4096;

    private const string AccessKeyIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private const int AccessKeyIdRandomChars = 16;

    private readonly IStateStore _store;
    private readonly MasterKey _masterKey;
    private readonly TimeProvider _time;

    internal ApiKeys(IStateStore store, MasterKey masterKey, TimeProvider time)
    {
        _store = store;
        _masterKey = masterKey;
        _time = time;
    }

    /// <summary>Keys over the store of <paramref name="dataDir"/>'s master key.</summary>
    public static ApiKeys Open(IStateStore store, string dataDir, TimeProvider? time = null)
        => new(store, MasterKey.LoadOrCreate(dataDir), time ?? TimeProvider.System);

    /// <summary>The store behind the keys.</summary>
    public IStateStore Store => _store;

    /// <summary>Creates a key; the returned secret is shown once and never stored.</summary>
    public async Task<IssuedKey> CreateAsync(string name, bool aws, IReadOnlyList<string>? allowedModels = null, TimeSpan? lifetime = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 128)
            throw new ArgumentException("A key name is required (at most 128 characters).", nameof(name));
        if (lifetime is { } l && l <= TimeSpan.Zero)
            throw new ArgumentException("The expiry must be in the future.", nameof(lifetime));
        var now = _time.GetUtcNow();
        var id = "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var models = allowedModels?.Where(m => m.Length > 0).Distinct(StringComparer.Ordinal).ToArray() ?? [];
        string secret;
        ApiKeyRecord record;
        if (aws)
        {
            var accessKeyId = AccessKeyIdPrefix + RandomNumberGenerator.GetString(AccessKeyIdAlphabet, AccessKeyIdRandomChars);
            secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));
            record = new ApiKeyRecord
            {
                Id = id, Name = name, Kind = ApiKeyKind.Aws, AccessKeyId = accessKeyId,
                SealedSecret = _masterKey.Seal(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(accessKeyId)),
                AllowedModels = models, CreatedAt = now, ExpiresAt = now + lifetime,
            };
        }
        else
        {
            secret = BearerPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));
            record = new ApiKeyRecord
            {
                Id = id, Name = name, Kind = ApiKeyKind.Bearer, SecretHash = HashSecret(secret),
                AllowedModels = models, CreatedAt = now, ExpiresAt = now + lifetime,
            };
        }
        await _store.InsertKeyAsync(record, cancellationToken);
        return new IssuedKey(record, secret);
    }

    /// <summary>Hex SHA-256 of a secret. A fast unsalted hash is right here: the secrets carry 256 random bits, so there is
    /// no dictionary to try and brute force is out of reach; slow password hashes (and salts) only matter for low-entropy secrets,
    /// and they would cost milliseconds on every request.</summary>
    public static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Finds the key of a Bearer secret; returns it or the reason it is refused.</summary>
    public async Task<(ApiKeyRecord? Key, AuthFailure? Failure)> VerifyBearerAsync(string secret, CancellationToken cancellationToken = default)
    {
        if (!secret.StartsWith(BearerPrefix, StringComparison.Ordinal))
            return (null, new AuthFailure(AuthFailureReason.UnknownKey, "The API key is not a Basalt key (they start with \"bsk-\"). Create one with `basalt keys create --name NAME`."));
        var key = await _store.FindKeyBySecretHashAsync(HashSecret(secret), cancellationToken);
        if (key is null)
            return (null, new AuthFailure(AuthFailureReason.UnknownKey, "The API key is not known to this server. Check the key, or create one with `basalt keys create --name NAME`."));
        return CheckUsable(key);
    }

    /// <summary>Finds an AWS key by access key id and unseals its secret; returns the key and secret, or the reason it is refused.</summary>
    public async Task<(ApiKeyRecord? Key, string? Secret, AuthFailure? Failure)> FindAwsKeyAsync(string accessKeyId, CancellationToken cancellationToken = default)
    {
        var key = await _store.FindKeyByAccessKeyIdAsync(accessKeyId, cancellationToken);
        if (key?.SealedSecret is null)
            return (null, null, new AuthFailure(AuthFailureReason.UnknownKey, $"The security token included in the request is invalid: access key id '{accessKeyId}' is not known to this server. Create one with `basalt keys create --name NAME --aws`."));
        var (usable, failure) = CheckUsable(key);
        if (failure is not null)
            return (null, null, failure);
        try
        {
            var secret = Encoding.UTF8.GetString(_masterKey.Unseal(key.SealedSecret, Encoding.UTF8.GetBytes(accessKeyId)));
            return (usable, secret, null);
        }
        catch (CryptographicException e)
        {
            // A server misconfiguration, not a caller error: the server log says what to fix.
            throw new InvalidOperationException(
                $"The AWS key '{key.Name}' was sealed with another master key; every server sharing a database needs the same {MasterKey.FileName} in its data directory.", e);
        }
    }

    private (ApiKeyRecord? Key, AuthFailure? Failure) CheckUsable(ApiKeyRecord key)
    {
        if (key.IsRevoked)
            return (null, new AuthFailure(AuthFailureReason.Revoked, $"The API key '{key.Name}' was revoked on {key.RevokedAt:u}. Ask the operator for a new key."));
        if (key.IsExpiredAt(_time.GetUtcNow()))
            return (null, new AuthFailure(AuthFailureReason.Expired, $"The API key '{key.Name}' expired on {key.ExpiresAt:u}. Ask the operator for a new key."));
        return (key, null);
    }
}

/// <summary>Parses key lifetimes such as "30d", "12h", "90m", "2w", "1y".</summary>
public static class KeyLifetime
{
    /// <summary>The lifetime, or an ArgumentException naming the accepted forms.</summary>
    public static TimeSpan Parse(string text)
    {
        var t = text.Trim();
        if (t.Length >= 2 && int.TryParse(t.AsSpan(0, t.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (t[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
                case 'w': return TimeSpan.FromDays(7L * n);
                case 'y': return TimeSpan.FromDays(365L * n);
            }
        }
        throw new ArgumentException($"'{text}' is not a lifetime; use a positive number followed by s, m, h, d, w or y (for example 30d).");
    }
}
