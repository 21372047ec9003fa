namespace Basalt.Server.State;

/// <summary>The server's durable state (API keys now; later features add their own tables through <see cref="StateMigrations"/>).
/// SQLite for a single node; the interface keeps the SQL dialect behind it so PostgreSQL can serve a scaled-out deployment.</summary>
public interface IStateStore : IDisposable
{
    /// <summary>Applies every migration not yet recorded in the schema_migrations table.</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>Ids of the migrations applied, in the order they were applied.</summary>
    Task<IReadOnlyList<string>> AppliedMigrationsAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores a new key; throws <see cref="DuplicateKeyNameException"/> when an active key already has the name.</summary>
    Task InsertKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>The key whose secret hashes to <paramref name="secretHash"/>, revoked or not, or null.</summary>
    Task<ApiKeyRecord?> FindKeyBySecretHashAsync(string secretHash, CancellationToken cancellationToken = default);

    /// <summary>The AWS key with this access key id, revoked or not, or null.</summary>
    Task<ApiKeyRecord?> FindKeyByAccessKeyIdAsync(string accessKeyId, CancellationToken cancellationToken = default);

    /// <summary>Every key, newest first.</summary>
    Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>Number of keys that are neither revoked nor expired at <paramref name="now"/>.</summary>
    Task<int> CountUsableKeysAsync(DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Revokes the active key with this name, or the key with this id; returns it, or null when none matched.</summary>
    Task<ApiKeyRecord?> RevokeKeyAsync(string nameOrId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Records last-used times in one transaction (called in batches, never per request).</summary>
    Task TouchKeysAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastUsed, CancellationToken cancellationToken = default);

    /// <summary>Stores a new guardrail's DRAFT; throws <see cref="DuplicateGuardrailNameException"/> when another guardrail has the name.</summary>
    Task InsertGuardrailAsync(StoredGuardrail draft, CancellationToken cancellationToken = default);

    /// <summary>One version of a guardrail (0 is the DRAFT), or null.</summary>
    Task<StoredGuardrail?> FindGuardrailAsync(string id, int version, CancellationToken cancellationToken = default);

    /// <summary>With <paramref name="id"/> null, the DRAFT of every guardrail, newest first; else every version of that guardrail,
    /// DRAFT first then by number.</summary>
    Task<IReadOnlyList<StoredGuardrail>> ListGuardrailsAsync(string? id, CancellationToken cancellationToken = default);

    /// <summary>Replaces the DRAFT's name, description and spec; false when the guardrail does not exist. Throws
    /// <see cref="DuplicateGuardrailNameException"/> when another guardrail has the new name.</summary>
    Task<bool> UpdateGuardrailDraftAsync(StoredGuardrail draft, CancellationToken cancellationToken = default);

    /// <summary>Copies the DRAFT into the next numbered version (with <paramref name="description"/> when given); returns the
    /// version, or null when the guardrail does not exist.</summary>
    Task<StoredGuardrail?> CreateGuardrailVersionAsync(string id, string? description, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Deletes every version of a guardrail (<paramref name="version"/> null) or one numbered version; false when
    /// nothing matched.</summary>
    Task<bool> DeleteGuardrailAsync(string id, int? version, CancellationToken cancellationToken = default);

    /// <summary>Stores a new customization job; throws <see cref="DuplicateNameException"/> when a job already has the name.</summary>
    Task InsertJobAsync(StoredDocument job, CancellationToken cancellationToken = default);

    /// <summary>Replaces a job's status and document.</summary>
    Task UpdateJobAsync(StoredDocument job, CancellationToken cancellationToken = default);

    /// <summary>The job with this id or name, or null.</summary>
    Task<StoredDocument?> FindJobAsync(string idOrName, CancellationToken cancellationToken = default);

    /// <summary>Every customization job, oldest first.</summary>
    Task<IReadOnlyList<StoredDocument>> ListJobsAsync(CancellationToken cancellationToken = default);

    /// <summary>Registers a custom model; throws <see cref="DuplicateNameException"/> when one already has the name.</summary>
    Task InsertCustomModelAsync(StoredDocument model, CancellationToken cancellationToken = default);

    /// <summary>The custom model with this name, or null.</summary>
    Task<StoredDocument?> FindCustomModelAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every custom model, oldest first.</summary>
    Task<IReadOnlyList<StoredDocument>> ListCustomModelsAsync(CancellationToken cancellationToken = default);
}

/// <summary>One stored guardrail version: the spec as CreateGuardrail JSON (see Basalt.Server.Guardrails.GuardrailSpecJson).</summary>
/// <param name="Id">The guardrail's id.</param>
/// <param name="Version">0 for the DRAFT, else the version number.</param>
/// <param name="Name">The guardrail's name (unique among DRAFTs).</param>
/// <param name="Description">The version's description.</param>
/// <param name="Spec">The configuration as CreateGuardrail JSON.</param>
/// <param name="CreatedAt">When the guardrail was created.</param>
/// <param name="UpdatedAt">When this version last changed.</param>
public sealed record StoredGuardrail(string Id, int Version, string Name, string? Description, string Spec, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Another guardrail already has the requested name.</summary>
public sealed class DuplicateGuardrailNameException(string name)
    : Exception($"A guardrail named '{name}' already exists; pick another name or delete it first (basalt guardrails delete ID).");

/// <summary>A row of a document table (customization jobs, custom models): indexed columns plus the JSON document the
/// feature owns, so a new field needs no migration.</summary>
/// <param name="Id">Primary key.</param>
/// <param name="Name">Unique name.</param>
/// <param name="Status">Status (indexed for the runner's queue).</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="Json">The document.</param>
public sealed record StoredDocument(string Id, string Name, string Status, DateTimeOffset CreatedAt, string Json);

/// <summary>A job or custom model already has the requested name.</summary>
public sealed class DuplicateNameException(string kind, string name)
    : Exception($"A {kind} named '{name}' already exists; pick another name.");

/// <summary>The kind of credential a key is.</summary>
public enum ApiKeyKind
{
    /// <summary>A "bsk-..." secret sent as Authorization: Bearer.</summary>
    Bearer,
    /// <summary>An AWS access key id and secret access key, used to sign with Signature V4.</summary>
    Aws,
}

/// <summary>One API key as stored: never the plain secret, only its hash (Bearer) or the sealed secret (AWS).</summary>
public sealed record ApiKeyRecord
{
    /// <summary>Stable id ("key_" + 16 hex digits).</summary>
    public required string Id { get; init; }
    /// <summary>Name the operator gave it.</summary>
    public required string Name { get; init; }
    /// <summary>Bearer or AWS.</summary>
    public required ApiKeyKind Kind { get; init; }
    /// <summary>Hex SHA-256 of the Bearer secret; null for AWS keys.</summary>
    public string? SecretHash { get; init; }
    /// <summary>The AWS access key id ("BKIA..."); null for Bearer keys.</summary>
    public string? AccessKeyId { get; init; }
    /// <summary>The AWS secret access key sealed with the master key (AES-GCM); null for Bearer keys.</summary>
    public byte[]? SealedSecret { get; init; }
    /// <summary>Model ids or aliases the key may call; empty means every model.</summary>
    public IReadOnlyList<string> AllowedModels { get; init; } = [];
    /// <summary>When it was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>When it stops working, or null for never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>When it last authenticated a request (recorded in batches, so up to a flush interval late).</summary>
    public DateTimeOffset? LastUsedAt { get; init; }
    /// <summary>When it was revoked, or null.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>True when revoked.</summary>
    public bool IsRevoked => RevokedAt is not null;

    /// <summary>True when expired at <paramref name="now"/>.</summary>
    public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt is { } e && e <= now;
}

/// <summary>An active key already has the requested name.</summary>
public sealed class DuplicateKeyNameException(string name)
    : Exception($"An active key named '{name}' already exists; pick another name or revoke it first (basalt keys revoke {name}).");
