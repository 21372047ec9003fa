using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Basalt.Server.State;

/// <summary>The state store in one SQLite file (DATA_DIR/basalt.db) in WAL mode, so readers never wait for the writer.</summary>
internal sealed class SqliteStateStore : SqlStateStore
{
    /// <summary>File name of the database inside the data directory.</summary>
    public const string FileName = "basalt.db";

    private readonly string _connectionString;

    private SqliteStateStore(string connectionString) => _connectionString = connectionString;

    /// <summary>Path of the database file.</summary>
    public required string DatabasePath { get; init; }

    /// <summary>Opens (creating the directory and file if missing) and migrates the store in <paramref name="dataDir"/>.</summary>
    public static async Task<SqliteStateStore> OpenAsync(string dataDir, CancellationToken cancellationToken = default)
    {
        DataDirectory.Ensure(dataDir);
        var path = Path.GetFullPath(Path.Combine(dataDir, FileName));
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 }.ToString();
        var store = new SqliteStateStore(cs) { DatabasePath = path };
        await using (var c = new SqliteConnection(cs))
        {
            await c.OpenAsync(cancellationToken);
            // WAL is a property of the file: set once, every later connection uses it.
            await c.ExecuteAsync("PRAGMA journal_mode=WAL;");
        }
        await store.MigrateAsync(cancellationToken);
        return store;
    }

    protected override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(cancellationToken);
        // busy_timeout lets the CLI and the server write the same file without "database is locked".
        await c.ExecuteAsync("PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;");
        return c;
    }

    // BEGIN IMMEDIATE takes SQLite's write lock up front.
    protected override Task<DbTransaction> BeginMigrationAsync(DbConnection connection, CancellationToken cancellationToken)
        => Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    protected override bool IsUniqueViolation(DbException e) => e is SqliteException { SqliteErrorCode: 19 };

    public override void Dispose() => SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
}
