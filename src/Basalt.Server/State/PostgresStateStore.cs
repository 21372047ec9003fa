using System.Data.Common;
using Dapper;
using Npgsql;

namespace Basalt.Server.State;

/// <summary>The state store in PostgreSQL, for several Basalt servers behind a load balancer sharing one set of keys.</summary>
internal sealed class PostgresStateStore : SqlStateStore
{
    /// <summary>Advisory lock id held while migrating ("basalt" in ASCII, as a number).</summary>
    private const long MigrationLockId = 0x626173616c74;

    private readonly NpgsqlDataSource _dataSource;

    private PostgresStateStore(NpgsqlDataSource dataSource) => _dataSource = dataSource;

    /// <summary>Opens and migrates the store; <paramref name="database"/> is a postgres:// URL or an Npgsql connection string.</summary>
    public static async Task<PostgresStateStore> OpenAsync(string database, CancellationToken cancellationToken = default)
    {
        var store = new PostgresStateStore(NpgsqlDataSource.Create(ToConnectionString(database)));
        try
        {
            await store.MigrateAsync(cancellationToken);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return store;
    }

    /// <summary>Turns postgres://user:password@host:port/database?sslmode=... into an Npgsql connection string; anything else is
    /// taken as a connection string already.</summary>
    public static string ToConnectionString(string database)
    {
        if (!database.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) && !database.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            return database;
        var uri = new Uri(database);
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            b.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
                b.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq > 0 && pair[..eq].Equals("sslmode", StringComparison.OrdinalIgnoreCase)
                && Enum.TryParse<SslMode>(Uri.UnescapeDataString(pair[(eq + 1)..]).Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode))
                b.SslMode = mode;
        }
        return b.ConnectionString;
    }

    protected override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
        => await _dataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbTransaction> BeginMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var tx = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@id)", new { id = MigrationLockId }, tx);
        return tx;
    }

    protected override bool IsUniqueViolation(DbException e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override void Dispose() => _dataSource.Dispose();
}
