using Basalt.Core.Catalog;
using Basalt.Server.State;

namespace Basalt.Server.Tests.State;

/// <summary>What every state store backend must do; each backend's test class derives from it.</summary>
public abstract class StateStoreContractTests
{
    /// <summary>Opens a store over this test's own empty database, or null when the backend is unavailable here (the test then passes, saying so).</summary>
    protected abstract Task<IStateStore?> OpenAsync();

    private static ApiKeyRecord Key(string id, string name, DateTimeOffset? created = null) => new()
    {
        Id = id, Name = name, Kind = ApiKeyKind.Bearer, SecretHash = "hash-" + id, AllowedModels = ["m1", "m2"],
        CreatedAt = created ?? DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task OpenAsync_Reopened_KeepsDataAndAppliesNothingTwice()
    {
        using (var first = await OpenAsync())
        {
            if (first is null)
                return;
            await first.InsertKeyAsync(Key("key_1", "alice"));
        }
        using var second = (await OpenAsync())!;

        Assert.Equal(StateMigrations.All.Select(m => m.Id), await second.AppliedMigrationsAsync());
        Assert.Equal("alice", (await second.ListKeysAsync()).Single().Name);
    }

    [Fact]
    public async Task InsertJobAsync_NameTaken_ThrowsAndUpdatesAreFoundByIdOrName()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        var created = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        await store.InsertJobAsync(new StoredDocument("a1", "first", "InProgress", created, "{\"v\":1}"));
        await store.InsertJobAsync(new StoredDocument("b2", "second", "InProgress", created.AddSeconds(1), "{\"v\":2}"));
        await Assert.ThrowsAsync<DuplicateNameException>(() => store.InsertJobAsync(new StoredDocument("c3", "first", "InProgress", created, "{}")));

        await store.UpdateJobAsync(new StoredDocument("a1", "first", "Completed", created, "{\"v\":3}"));

        var byName = await store.FindJobAsync("first");
        Assert.Equal(("a1", "Completed", "{\"v\":3}", created), (byName!.Id, byName.Status, byName.Json, byName.CreatedAt));
        Assert.Equal("second", (await store.FindJobAsync("b2"))!.Name);
        Assert.Null(await store.FindJobAsync("c3"));
        Assert.Equal(["first", "second"], (await store.ListJobsAsync()).Select(j => j.Name));
    }

    [Fact]
    public async Task InsertCustomModelAsync_NameTaken_ThrowsAndTheFirstStays()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        var created = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        await store.InsertCustomModelAsync(new StoredDocument("job1", "tom", "Active", created, "{\"path\":\"a\"}"));
        await Assert.ThrowsAsync<DuplicateNameException>(() => store.InsertCustomModelAsync(new StoredDocument("job2", "tom", "Active", created, "{}")));

        var found = await store.FindCustomModelAsync("tom");
        Assert.Equal(("job1", "{\"path\":\"a\"}"), (found!.Id, found.Json));
        Assert.Null(await store.FindCustomModelAsync("other"));
        Assert.Equal("tom", (await store.ListCustomModelsAsync()).Single().Name);
    }

    [Fact]
    public async Task FindKeyBySecretHashAsync_StoredKey_RoundTripsEveryField()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        var created = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        var key = Key("key_1", "alice", created) with { ExpiresAt = created.AddDays(30) };
        await store.InsertKeyAsync(key);

        var found = await store.FindKeyBySecretHashAsync("hash-key_1");

        Assert.NotNull(found);
        Assert.Equal(key.Id, found.Id);
        Assert.Equal(key.Name, found.Name);
        Assert.Equal(ApiKeyKind.Bearer, found.Kind);
        Assert.Equal(["m1", "m2"], found.AllowedModels);
        Assert.Equal(created, found.CreatedAt);
        Assert.Equal(created.AddDays(30), found.ExpiresAt);
        Assert.Null(found.RevokedAt);
        Assert.Null(await store.FindKeyBySecretHashAsync("hash-other"));
    }

    [Fact]
    public async Task InsertKeyAsync_ActiveNameTaken_ThrowsButRevokedNameCanBeReused()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        await store.InsertKeyAsync(Key("key_1", "alice"));

        var e = await Assert.ThrowsAsync<DuplicateKeyNameException>(() => store.InsertKeyAsync(Key("key_2", "alice")));
        Assert.Contains("alice", e.Message);

        await store.RevokeKeyAsync("alice", DateTimeOffset.UtcNow);
        await store.InsertKeyAsync(Key("key_3", "alice"));
        Assert.Equal(2, (await store.ListKeysAsync()).Count);
    }

    [Fact]
    public async Task FindKeyBySecretHashAsync_KeyFoundThenRevoked_ReturnsItRevoked()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        await store.InsertKeyAsync(Key("key_1", "alice"));
        Assert.False((await store.FindKeyBySecretHashAsync("hash-key_1"))!.IsRevoked);

        await store.RevokeKeyAsync("alice", DateTimeOffset.UtcNow);

        Assert.True((await store.FindKeyBySecretHashAsync("hash-key_1"))!.IsRevoked);
    }

    [Fact]
    public async Task RevokeKeyAsync_ByNameOrId_MarksRevokedAndUnknownGivesNull()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        await store.InsertKeyAsync(Key("key_1", "alice"));
        await store.InsertKeyAsync(Key("key_2", "bob"));
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

        Assert.Equal("key_1", (await store.RevokeKeyAsync("alice", at))!.Id);
        Assert.Equal("bob", (await store.RevokeKeyAsync("key_2", at))!.Name);
        Assert.Null(await store.RevokeKeyAsync("carol", at));

        Assert.All(await store.ListKeysAsync(), k => Assert.Equal(at, k.RevokedAt));
        Assert.Equal(0, await store.CountUsableKeysAsync(DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task CountUsableKeysAsync_ExpiredAndRevokedKeys_AreNotCounted()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        var now = DateTimeOffset.UtcNow;
        await store.InsertKeyAsync(Key("key_1", "live"));
        await store.InsertKeyAsync(Key("key_2", "old") with { ExpiresAt = now.AddMinutes(-1) });
        await store.InsertKeyAsync(Key("key_3", "gone"));
        await store.RevokeKeyAsync("gone", now);

        Assert.Equal(1, await store.CountUsableKeysAsync(now));
    }

    [Fact]
    public async Task TouchKeysAsync_Batch_KeepsTheLatestTimePerKey()
    {
        using var store = await OpenAsync();
        if (store is null)
            return;
        await store.InsertKeyAsync(Key("key_1", "alice"));
        var t1 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

        await store.TouchKeysAsync([new("key_1", t1)]);
        await store.TouchKeysAsync([new("key_1", t1.AddSeconds(-5))]);

        Assert.Equal(t1, (await store.ListKeysAsync()).Single().LastUsedAt);
    }
}
