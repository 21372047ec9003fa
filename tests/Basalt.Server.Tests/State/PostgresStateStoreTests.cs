using Basalt.Core.Catalog;
using Basalt.Server.State;
using Npgsql;

namespace Basalt.Server.Tests.State;

/// <summary>The state store contract on PostgreSQL; runs when BASALT_TEST_POSTGRES holds a connection string or postgres:// URL
/// (each test works in its own schema, dropped afterwards).</summary>
public sealed class PostgresStateStoreTests : StateStoreContractTests, IDisposable
{
    private static readonly string? Database = Environment.GetEnvironmentVariable("BASALT_TEST_POSTGRES");
    private readonly string _schema = "basalt_test_" + Guid.NewGuid().ToString("N");
    private bool _created;

    protected override async Task<IStateStore?> OpenAsync()
    {
        if (string.IsNullOrWhiteSpace(Database))
        {
            Console.WriteLine("SKIPPED (BASALT_TEST_POSTGRES is not set): PostgreSQL state store tests");
            return null;
        }
        var admin = PostgresStateStore.ToConnectionString(Database);
        if (!_created)
        {
            await using var c = new NpgsqlConnection(admin);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {_schema}", c);
            await cmd.ExecuteNonQueryAsync();
            _created = true;
        }
        var scoped = new NpgsqlConnectionStringBuilder(admin) { SearchPath = _schema, Pooling = false }.ConnectionString;
        return await StateStore.OpenAsync(new ServerConfig { Database = scoped });
    }

    public void Dispose()
    {
        if (!_created)
            return;
        using var c = new NpgsqlConnection(PostgresStateStore.ToConnectionString(Database!));
        c.Open();
        using var cmd = new NpgsqlCommand($"DROP SCHEMA {_schema} CASCADE", c);
        cmd.ExecuteNonQuery();
    }

    [Theory]
    [InlineData("postgres://basalt:p%40ss@db.internal:6543/keys?sslmode=require", "db.internal", 6543, "keys", "basalt", "p@ss")]
    [InlineData("postgresql://u@localhost/basalt", "localhost", 5432, "basalt", "u", null)]
    public void ToConnectionString_PostgresUrl_MapsEveryPart(string url, string host, int port, string database, string user, string? password)
    {
        var b = new NpgsqlConnectionStringBuilder(PostgresStateStore.ToConnectionString(url));

        Assert.Equal(host, b.Host);
        Assert.Equal(port, b.Port);
        Assert.Equal(database, b.Database);
        Assert.Equal(user, b.Username);
        Assert.Equal(password, b.Password);
    }

    [Fact]
    public void ToConnectionString_ConnectionString_KeptAsIs()
        => Assert.Equal("Host=h;Database=d", PostgresStateStore.ToConnectionString("Host=h;Database=d"));
}
