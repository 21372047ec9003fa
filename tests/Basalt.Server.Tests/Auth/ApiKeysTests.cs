using System.Text;
using System.Text.RegularExpressions;
using Basalt.Core.Catalog;
using Basalt.Server.Auth;
using Basalt.Server.State;
using Microsoft.Data.Sqlite;

namespace Basalt.Server.Tests.Auth;

public sealed class ApiKeysTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "basalt-keys-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private async Task<(IStateStore Store, ApiKeys Keys)> OpenAsync()
    {
        var store = await StateStore.OpenAsync(new ServerConfig { DataDir = _dir });
        return (store, ApiKeys.Open(store, _dir));
    }

    /// <summary>Every byte the store wrote: the database, its WAL and shared-memory files.</summary>
    private byte[] StoreBytes()
    {
        var all = new List<byte>();
        foreach (var f in Directory.GetFiles(_dir, "basalt.db*"))
            using (var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                var buffer = new byte[s.Length];
                s.ReadExactly(buffer);
                all.AddRange(buffer);
            }
        return [.. all];
    }

    [Fact]
    public async Task CreateAsync_Bearer_SecretIsRandomAndNeverWrittenToTheStore()
    {
        var (store, keys) = await OpenAsync();
        using var _ = store;

        var a = await keys.CreateAsync("alice", aws: false);
        var b = await keys.CreateAsync("bob", aws: false);

        Assert.Matches(new Regex("^bsk-[A-Za-z0-9_-]{43}$"), a.Secret);
        Assert.NotEqual(a.Secret, b.Secret);
        var bytes = StoreBytes();
        Assert.True(bytes.Length > 0);
        Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(a.Secret["bsk-".Length..])));
        Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(b.Secret["bsk-".Length..])));
        Assert.NotEqual(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(ApiKeys.HashSecret(a.Secret))));
    }

    [Fact]
    public async Task CreateAsync_Aws_SecretIsSealedAndUnsealsForVerification()
    {
        var (store, keys) = await OpenAsync();
        using var _ = store;

        var issued = await keys.CreateAsync("ci", aws: true);

        Assert.Matches(new Regex("^BKIA[A-Z]{16}$"), issued.Record.AccessKeyId!);
        Assert.True(issued.Secret.Length >= 43);
        Assert.Equal(-1, StoreBytes().AsSpan().IndexOf(Encoding.UTF8.GetBytes(issued.Secret)));
        var (key, secret, failure) = await keys.FindAwsKeyAsync(issued.Record.AccessKeyId!);
        Assert.Null(failure);
        Assert.Equal(issued.Record.Id, key!.Id);
        Assert.Equal(issued.Secret, secret);
    }

    [Fact]
    public async Task LoadOrCreate_MasterKeyFile_IsOwnerOnly()
    {
        var (store, _) = await OpenAsync();
        using var __ = store;

        var path = Path.Combine(_dir, "master.key");
        Assert.Equal(32, new FileInfo(path).Length);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task FindAwsKeyAsync_OtherMasterKey_CannotUnsealTheSecret()
    {
        var (store, keys) = await OpenAsync();
        using var _ = store;
        var issued = await keys.CreateAsync("ci", aws: true);
        File.Delete(Path.Combine(_dir, "master.key"));
        var other = ApiKeys.Open(store, _dir);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => other.FindAwsKeyAsync(issued.Record.AccessKeyId!));
        Assert.Contains("same master.key", e.Message);
    }

    [Fact]
    public async Task VerifyBearerAsync_RevokedExpiredUnknown_EachRefusedWithItsReason()
    {
        var (store, keys) = await OpenAsync();
        using var _ = store;
        var live = await keys.CreateAsync("live", aws: false);
        var revoked = await keys.CreateAsync("revoked", aws: false);
        await store.RevokeKeyAsync("revoked", DateTimeOffset.UtcNow);
        var expired = "bsk-" + Guid.NewGuid().ToString("N");
        await store.InsertKeyAsync(new ApiKeyRecord
        {
            Id = "key_expired", Name = "expired", Kind = ApiKeyKind.Bearer, SecretHash = ApiKeys.HashSecret(expired),
            CreatedAt = DateTimeOffset.UtcNow.AddDays(-2), ExpiresAt = DateTimeOffset.UtcNow.AddDays(-1),
        });

        Assert.Equal("live", (await keys.VerifyBearerAsync(live.Secret)).Key!.Name);
        Assert.Equal(AuthFailureReason.Revoked, (await keys.VerifyBearerAsync(revoked.Secret)).Failure!.Reason);
        Assert.Equal(AuthFailureReason.Expired, (await keys.VerifyBearerAsync(expired)).Failure!.Reason);
        Assert.Equal(AuthFailureReason.UnknownKey, (await keys.VerifyBearerAsync(live.Secret + "x")).Failure!.Reason);
        Assert.Equal(AuthFailureReason.UnknownKey, (await keys.VerifyBearerAsync("sk-openai-style")).Failure!.Reason);
    }

    [Theory]
    [InlineData("30d", 30 * 24 * 3600)]
    [InlineData("12h", 12 * 3600)]
    [InlineData("90m", 90 * 60)]
    [InlineData("2w", 14 * 24 * 3600)]
    [InlineData("1y", 365 * 24 * 3600)]
    public void Parse_Lifetime_GivesDuration(string text, int seconds)
        => Assert.Equal(TimeSpan.FromSeconds(seconds), KeyLifetime.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("d")]
    [InlineData("0d")]
    [InlineData("-3d")]
    [InlineData("3q")]
    public void Parse_BadLifetime_ThrowsNamingTheForms(string text)
        => Assert.Contains("for example 30d", Assert.Throws<ArgumentException>(() => KeyLifetime.Parse(text)).Message);
}
