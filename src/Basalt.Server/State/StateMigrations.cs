namespace Basalt.Server.State;

/// <summary>One schema change, applied once and recorded by id in schema_migrations.</summary>
/// <param name="Id">Sortable, never reused id ("0001_api_keys"); features pick the next free number.</param>
/// <param name="Sql">Statements that run in one transaction; kept to SQL both SQLite and PostgreSQL accept.</param>
public sealed record StateMigration(string Id, string Sql);

/// <summary>Every migration of the state store, in order. A feature that needs a table appends one entry here.</summary>
public static class StateMigrations
{
    /// <summary>The migrations, oldest first.</summary>
    public static IReadOnlyList<StateMigration> All { get; } =
    [
        new("0001_api_keys", """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                secret_hash TEXT NULL UNIQUE,
                access_key_id TEXT NULL UNIQUE,
                sealed_secret BYTEA NULL,
                allowed_models TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NULL,
                last_used_at BIGINT NULL,
                revoked_at BIGINT NULL
            );
            CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
            """),
        new("0002_guardrails", """
            CREATE TABLE guardrails (
                id TEXT NOT NULL,
                version INTEGER NOT NULL,
                name TEXT NOT NULL,
                description TEXT NULL,
                spec TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (id, version)
            );
            CREATE UNIQUE INDEX guardrails_draft_name ON guardrails (name) WHERE version = 0;
            """),
        new("0003_model_customization", """
            CREATE TABLE customization_jobs (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                document TEXT NOT NULL
            );
            CREATE INDEX customization_jobs_status ON customization_jobs (status);
            CREATE TABLE custom_models (
                name TEXT PRIMARY KEY,
                job_id TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                document TEXT NOT NULL
            );
            """),
    ];
}
