using Basalt.Core.Catalog;
using Basalt.Server.State;
using Microsoft.Data.Sqlite;

namespace Basalt.Server.Tests.State;

public sealed class SqliteStateStoreTests : StateStoreContractTests, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "basalt-state-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    protected override async Task<IStateStore?> OpenAsync() => await StateStore.OpenAsync(new ServerConfig { DataDir = _dir });

    [Fact]
    public async Task OpenAsync_MissingDirectory_CreatesWalDatabaseWithMigrationsRecorded()
    {
        using var store = (await OpenAsync())!;

        Assert.True(File.Exists(Path.Combine(_dir, "basalt.db")));
        Assert.Equal(StateMigrations.All.Select(m => m.Id), await store.AppliedMigrationsAsync());
        await using var c = new SqliteConnection($"Data Source={Path.Combine(_dir, "basalt.db")}");
        await c.OpenAsync();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await cmd.ExecuteScalarAsync());
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
    }

    [Fact]
    public async Task OpenAsync_TwoProcessesAtOnce_MigrateOnce()
    {
        var opened = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(OpenAsync)));

        Assert.All(opened, s => Assert.Equal(StateMigrations.All.Select(m => m.Id), s!.AppliedMigrationsAsync().Result));
        foreach (var s in opened)
            s!.Dispose();
    }
}
