using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using Dapper;

namespace Basalt.Server.State;

/// <summary>The dialect-neutral part of the state store: every statement here is plain SQL that SQLite and PostgreSQL both run;
/// subclasses only open connections and recognise their driver's unique-violation error.</summary>
internal abstract class SqlStateStore : IStateStore
{
    /// <summary>How long a key found by secret hash or access key id is served from memory: authenticating a request then
    /// costs no database round trip. Revoking through this store takes effect at once; through another process (the CLI
    /// beside a running server, another server on a shared database) within this time.</summary>
    public static readonly TimeSpan KeyCacheLifetime = TimeSpan.FromSeconds(5);

    private const int KeyCacheCapacity = 10_000;

    private readonly ConcurrentDictionary<string, CachedKey> _keyCache = new(StringComparer.Ordinal);
    private long _keyCacheGeneration;

    private const string KeyColumns = "id AS Id, name AS Name, kind AS Kind, secret_hash AS SecretHash, access_key_id AS AccessKeyId, sealed_secret AS SealedSecret, "
        + "allowed_models AS AllowedModels, created_at AS CreatedAt, expires_at AS ExpiresAt, last_used_at AS LastUsedAt, revoked_at AS RevokedAt";

    protected abstract Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    protected abstract bool IsUniqueViolation(DbException e);

    public abstract void Dispose();

    /// <summary>Begins the migration transaction holding a lock that keeps other processes (a CLI beside a running server,
    /// several servers on one database) from migrating at the same time.</summary>
    protected abstract Task<DbTransaction> BeginMigrationAsync(DbConnection connection, CancellationToken cancellationToken);

    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        await using var tx = await BeginMigrationAsync(c, cancellationToken);
        await c.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)", transaction: tx);
        var applied = (await c.QueryAsync<string>("SELECT id FROM schema_migrations", transaction: tx)).ToHashSet(StringComparer.Ordinal);
        foreach (var m in StateMigrations.All)
        {
            if (applied.Contains(m.Id))
                continue;
            await c.ExecuteAsync(m.Sql, transaction: tx);
            await c.ExecuteAsync("INSERT INTO schema_migrations (id, applied_at) VALUES (@id, @at)", new { id = m.Id, at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, tx);
        }
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<string>> AppliedMigrationsAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        return (await c.QueryAsync<string>("SELECT id FROM schema_migrations ORDER BY applied_at, id")).ToList();
    }

    public async Task InsertKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        try
        {
            await c.ExecuteAsync(
                "INSERT INTO api_keys (id, name, kind, secret_hash, access_key_id, sealed_secret, allowed_models, created_at, expires_at, last_used_at, revoked_at) "
                + "VALUES (@Id, @Name, @Kind, @SecretHash, @AccessKeyId, @SealedSecret, @AllowedModels, @CreatedAt, @ExpiresAt, NULL, NULL)",
                KeyRow.From(key));
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            throw new DuplicateKeyNameException(key.Name);
        }
    }

    public Task<ApiKeyRecord?> FindKeyBySecretHashAsync(string secretHash, CancellationToken cancellationToken = default)
        => FindCachedAsync("h:" + secretHash, "secret_hash = @v", secretHash, cancellationToken);

    public Task<ApiKeyRecord?> FindKeyByAccessKeyIdAsync(string accessKeyId, CancellationToken cancellationToken = default)
        => FindCachedAsync("a:" + accessKeyId, "access_key_id = @v", accessKeyId, cancellationToken);

    public async Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        var rows = await c.QueryAsync<KeyRow>($"SELECT {KeyColumns} FROM api_keys ORDER BY created_at DESC, id");
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public async Task<int> CountUsableKeysAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        return await c.ExecuteScalarAsync<int>(
            "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)",
            new { now = now.ToUnixTimeMilliseconds() });
    }

    public async Task<ApiKeyRecord?> RevokeKeyAsync(string nameOrId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        InvalidateKeyCache();
        await using var c = await OpenConnectionAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        var row = await c.QueryFirstOrDefaultAsync<KeyRow>(
            $"SELECT {KeyColumns} FROM api_keys WHERE (name = @v AND revoked_at IS NULL) OR id = @v OR access_key_id = @v ORDER BY created_at DESC",
            new { v = nameOrId }, tx);
        if (row is null)
            return null;
        if (row.RevokedAt is null)
        {
            row.RevokedAt = at.ToUnixTimeMilliseconds();
            await c.ExecuteAsync("UPDATE api_keys SET revoked_at = @at WHERE id = @id", new { at = row.RevokedAt, id = row.Id }, tx);
        }
        await tx.CommitAsync(cancellationToken);
        InvalidateKeyCache();
        return row.ToRecord();
    }

    public async Task TouchKeysAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastUsed, CancellationToken cancellationToken = default)
    {
        if (lastUsed.Count == 0)
            return;
        await using var c = await OpenConnectionAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        foreach (var (id, at) in lastUsed)
            await c.ExecuteAsync(
                "UPDATE api_keys SET last_used_at = @at WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @at)",
                new { id, at = at.ToUnixTimeMilliseconds() }, tx);
        await tx.CommitAsync(cancellationToken);
    }

    private const string JobColumns = "id AS Id, name AS Name, status AS Status, created_at AS CreatedAt, document AS Json";
    private const string ModelColumns = "job_id AS Id, name AS Name, 'Active' AS Status, created_at AS CreatedAt, document AS Json";

    public async Task InsertJobAsync(StoredDocument job, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        try
        {
            await c.ExecuteAsync("INSERT INTO customization_jobs (id, name, status, created_at, document) VALUES (@Id, @Name, @Status, @CreatedAt, @Json)",
                DocumentRow.From(job));
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            throw new DuplicateNameException("customization job", job.Name);
        }
    }

    public async Task UpdateJobAsync(StoredDocument job, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        await c.ExecuteAsync("UPDATE customization_jobs SET status = @Status, document = @Json WHERE id = @Id", DocumentRow.From(job));
    }

    public async Task<StoredDocument?> FindJobAsync(string idOrName, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        var row = await c.QueryFirstOrDefaultAsync<DocumentRow>($"SELECT {JobColumns} FROM customization_jobs WHERE id = @v OR name = @v", new { v = idOrName });
        return row?.ToDocument();
    }

    public async Task<IReadOnlyList<StoredDocument>> ListJobsAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        return (await c.QueryAsync<DocumentRow>($"SELECT {JobColumns} FROM customization_jobs ORDER BY created_at, id")).Select(r => r.ToDocument()).ToList();
    }

    public async Task InsertCustomModelAsync(StoredDocument model, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        try
        {
            await c.ExecuteAsync("INSERT INTO custom_models (name, job_id, created_at, document) VALUES (@Name, @Id, @CreatedAt, @Json)", DocumentRow.From(model));
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            throw new DuplicateNameException("custom model", model.Name);
        }
    }

    public async Task<StoredDocument?> FindCustomModelAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        var row = await c.QueryFirstOrDefaultAsync<DocumentRow>($"SELECT {ModelColumns} FROM custom_models WHERE name = @v", new { v = name });
        return row?.ToDocument();
    }

    public async Task<IReadOnlyList<StoredDocument>> ListCustomModelsAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        return (await c.QueryAsync<DocumentRow>($"SELECT {ModelColumns} FROM custom_models ORDER BY created_at, name")).Select(r => r.ToDocument()).ToList();
    }

    /// <summary>The row shape of the document tables; times are Unix milliseconds.</summary>
    private sealed class DocumentRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Status { get; set; } = "";
        public long CreatedAt { get; set; }
        public string Json { get; set; } = "";

        public static DocumentRow From(StoredDocument d) => new() { Id = d.Id, Name = d.Name, Status = d.Status, CreatedAt = d.CreatedAt.ToUnixTimeMilliseconds(), Json = d.Json };

        public StoredDocument ToDocument() => new(Id, Name, Status, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), Json);
    }

    /// <summary>A key found before, while younger than <see cref="KeyCacheLifetime"/>; otherwise the database's answer, remembered
    /// when a key was found (unknown secrets are not cached, so a key created elsewhere works at once).</summary>
    private async Task<ApiKeyRecord?> FindCachedAsync(string cacheKey, string where, string value, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        if (_keyCache.TryGetValue(cacheKey, out var hit) && Stopwatch.GetElapsedTime(hit.At, now) < KeyCacheLifetime
            && hit.Generation == Volatile.Read(ref _keyCacheGeneration))
            return hit.Key;
        var generation = Volatile.Read(ref _keyCacheGeneration);
        var key = await FindOneAsync(where, value, cancellationToken);
        if (key is null)
        {
            _keyCache.TryRemove(cacheKey, out _);
            return null;
        }
        if (_keyCache.Count >= KeyCacheCapacity)
            _keyCache.Clear();
        // A revocation that ran during the query bumped the generation, so this entry is never served.
        _keyCache[cacheKey] = new CachedKey(key, now, generation);
        return key;
    }

    /// <summary>Forgets every cached key; called around a revocation so it is seen by the next request.</summary>
    private void InvalidateKeyCache()
    {
        Interlocked.Increment(ref _keyCacheGeneration);
        _keyCache.Clear();
    }

    private sealed record CachedKey(ApiKeyRecord Key, long At, long Generation);

    private async Task<ApiKeyRecord?> FindOneAsync(string where, string value, CancellationToken cancellationToken)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        var row = await c.QueryFirstOrDefaultAsync<KeyRow>($"SELECT {KeyColumns} FROM api_keys WHERE {where}", new { v = value });
        return row?.ToRecord();
    }

    private const string GuardrailColumns = "id AS Id, version AS Version, name AS Name, description AS Description, spec AS Spec, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public async Task InsertGuardrailAsync(StoredGuardrail draft, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        try
        {
            await c.ExecuteAsync(
                "INSERT INTO guardrails (id, version, name, description, spec, created_at, updated_at) VALUES (@Id, @Version, @Name, @Description, @Spec, @CreatedAt, @UpdatedAt)",
                GuardrailRow.From(draft));
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            throw new DuplicateGuardrailNameException(draft.Name);
        }
    }

    public async Task<StoredGuardrail?> FindGuardrailAsync(string id, int version, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        var row = await c.QueryFirstOrDefaultAsync<GuardrailRow>($"SELECT {GuardrailColumns} FROM guardrails WHERE id = @id AND version = @version", new { id, version });
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<StoredGuardrail>> ListGuardrailsAsync(string? id, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        var rows = id is null
            ? await c.QueryAsync<GuardrailRow>($"SELECT {GuardrailColumns} FROM guardrails WHERE version = 0 ORDER BY created_at DESC, id")
            : await c.QueryAsync<GuardrailRow>($"SELECT {GuardrailColumns} FROM guardrails WHERE id = @id ORDER BY version", new { id });
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public async Task<bool> UpdateGuardrailDraftAsync(StoredGuardrail draft, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        try
        {
            return await c.ExecuteAsync(
                "UPDATE guardrails SET name = @Name, description = @Description, spec = @Spec, updated_at = @UpdatedAt WHERE id = @Id AND version = 0",
                GuardrailRow.From(draft)) > 0;
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            throw new DuplicateGuardrailNameException(draft.Name);
        }
    }

    public async Task<StoredGuardrail?> CreateGuardrailVersionAsync(string id, string? description, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            await using var tx = await c.BeginTransactionAsync(cancellationToken);
            var draft = await c.QueryFirstOrDefaultAsync<GuardrailRow>($"SELECT {GuardrailColumns} FROM guardrails WHERE id = @id AND version = 0", new { id }, tx);
            if (draft is null)
                return null;
            var next = await c.ExecuteScalarAsync<int>("SELECT COALESCE(MAX(version), 0) + 1 FROM guardrails WHERE id = @id", new { id }, tx);
            draft.Version = next;
            draft.Description = description ?? draft.Description;
            draft.UpdatedAt = at.ToUnixTimeMilliseconds();
            try
            {
                await c.ExecuteAsync(
                    "INSERT INTO guardrails (id, version, name, description, spec, created_at, updated_at) VALUES (@Id, @Version, @Name, @Description, @Spec, @CreatedAt, @UpdatedAt)",
                    draft, tx);
                await tx.CommitAsync(cancellationToken);
                return draft.ToRecord();
            }
            catch (DbException e) when (IsUniqueViolation(e) && attempt < 3)
            {
                // Two versions created at once picked the same number; the loser retries with the next.
                await tx.RollbackAsync(cancellationToken);
            }
        }
    }

    public async Task<bool> DeleteGuardrailAsync(string id, int? version, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenConnectionAsync(cancellationToken);
        var n = version is { } v
            ? await c.ExecuteAsync("DELETE FROM guardrails WHERE id = @id AND version = @v AND version > 0", new { id, v })
            : await c.ExecuteAsync("DELETE FROM guardrails WHERE id = @id", new { id });
        return n > 0;
    }

    /// <summary>The guardrail row shape Dapper maps; times are Unix milliseconds.</summary>
    private sealed class GuardrailRow
    {
        public string Id { get; set; } = "";
        public int Version { get; set; }
        public string Name { get; set; } = "";
        public string? Description { get; set; }
        public string Spec { get; set; } = "";
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public static GuardrailRow From(StoredGuardrail g) => new()
        {
            Id = g.Id, Version = g.Version, Name = g.Name, Description = g.Description, Spec = g.Spec,
            CreatedAt = g.CreatedAt.ToUnixTimeMilliseconds(), UpdatedAt = g.UpdatedAt.ToUnixTimeMilliseconds(),
        };

        public StoredGuardrail ToRecord() => new(Id, Version, Name, Description, Spec,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt));
    }

    /// <summary>The row shape Dapper maps; times are Unix milliseconds, allowed models a comma-separated list.</summary>
    private sealed class KeyRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public string? SecretHash { get; set; }
        public string? AccessKeyId { get; set; }
        public byte[]? SealedSecret { get; set; }
        public string AllowedModels { get; set; } = "";
        public long CreatedAt { get; set; }
        public long? ExpiresAt { get; set; }
        public long? LastUsedAt { get; set; }
        public long? RevokedAt { get; set; }

        public static KeyRow From(ApiKeyRecord k) => new()
        {
            Id = k.Id,
            Name = k.Name,
            Kind = k.Kind == ApiKeyKind.Aws ? "aws" : "bearer",
            SecretHash = k.SecretHash,
            AccessKeyId = k.AccessKeyId,
            SealedSecret = k.SealedSecret,
            AllowedModels = string.Join(',', k.AllowedModels),
            CreatedAt = k.CreatedAt.ToUnixTimeMilliseconds(),
            ExpiresAt = k.ExpiresAt?.ToUnixTimeMilliseconds(),
        };

        public ApiKeyRecord ToRecord() => new()
        {
            Id = Id,
            Name = Name,
            Kind = Kind == "aws" ? ApiKeyKind.Aws : ApiKeyKind.Bearer,
            SecretHash = SecretHash,
            AccessKeyId = AccessKeyId,
            SealedSecret = SealedSecret,
            AllowedModels = AllowedModels.Length == 0 ? [] : AllowedModels.Split(','),
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            ExpiresAt = ExpiresAt is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null,
            LastUsedAt = LastUsedAt is { } l ? DateTimeOffset.FromUnixTimeMilliseconds(l) : null,
            RevokedAt = RevokedAt is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null,
        };
    }
}
