using System.Net.Http.Headers;
using Basalt.Core.Catalog;
using Basalt.Server.Auth;
using Basalt.Server.State;
using Basalt.Server.Tests.Fakes;
using Microsoft.Data.Sqlite;

namespace Basalt.Server.Tests.Auth;

public sealed class AdminKeyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "basalt-admin-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("127.0.0.1:8700", true)]
    [InlineData("127.1.2.3:80", true)]
    [InlineData("localhost:8700", true)]
    [InlineData("[::1]:8700", true)]
    [InlineData("0.0.0.0:8700", false)]
    [InlineData("[::]:8700", false)]
    [InlineData("*:8700", false)]
    [InlineData("10.0.0.5:8700", false)]
    public void IsLoopback_ListenAddress_Classified(string listen, bool loopback) => Assert.Equal(loopback, AdminKey.IsLoopback(listen));

    [Fact]
    public async Task EnsureAsync_LoopbackWithoutKeys_WritesOwnerOnlyAdminKeyThatAuthenticates()
    {
        using var store = await StateStore.OpenAsync(new ServerConfig { DataDir = _dir });
        var keys = ApiKeys.Open(store, _dir);

        var outcome = await AdminKey.EnsureAsync(keys, "127.0.0.1:8700", _dir);
        var again = await AdminKey.EnsureAsync(keys, "127.0.0.1:8700", _dir);

        Assert.True(outcome.Created);
        Assert.False(again.Created);
        var path = Path.Combine(_dir, "admin-key");
        Assert.Equal(Path.GetFullPath(path), outcome.Path);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var (key, failure) = await keys.VerifyBearerAsync(File.ReadAllText(path).Trim());
        Assert.Null(failure);
        Assert.StartsWith("admin", key!.Name);
    }

    [Fact]
    public async Task EnsureAsync_PublicAddressWithoutKeys_RefusesSayingHowToCreateOne()
    {
        using var store = await StateStore.OpenAsync(new ServerConfig { DataDir = _dir });
        var keys = ApiKeys.Open(store, _dir);

        var outcome = await AdminKey.EnsureAsync(keys, "0.0.0.0:8700", _dir);

        Assert.False(outcome.Created);
        Assert.Contains("basalt keys create --name NAME", outcome.Refusal);
        Assert.False(File.Exists(Path.Combine(_dir, "admin-key")));
    }

    [Fact]
    public async Task EnsureAsync_PublicAddressWithAKey_Starts()
    {
        using var store = await StateStore.OpenAsync(new ServerConfig { DataDir = _dir });
        var keys = ApiKeys.Open(store, _dir);
        await keys.CreateAsync("ops", aws: false);

        var outcome = await AdminKey.EnsureAsync(keys, "0.0.0.0:8700", _dir);

        Assert.Null(outcome.Refusal);
        Assert.False(outcome.Created);
    }

    [Fact]
    public async Task EnsureAsync_OnlyRevokedKeys_CreatesAFreshAdminKey()
    {
        using var store = await StateStore.OpenAsync(new ServerConfig { DataDir = _dir });
        var keys = ApiKeys.Open(store, _dir);
        var first = await AdminKey.EnsureAsync(keys, "127.0.0.1:8700", _dir);
        var firstSecret = File.ReadAllText(first.Path!).Trim();
        await store.RevokeKeyAsync((await store.ListKeysAsync()).Single().Id, DateTimeOffset.UtcNow);

        var second = await AdminKey.EnsureAsync(keys, "127.0.0.1:8700", _dir);

        Assert.True(second.Created);
        Assert.NotEqual(firstSecret, File.ReadAllText(second.Path!).Trim());
    }
}
