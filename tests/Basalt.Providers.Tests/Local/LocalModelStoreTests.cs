using Basalt.Core.Conversation;
using Basalt.Providers.Local;
using Microsoft.Extensions.Logging;

namespace Basalt.Providers.Tests.Local;

public sealed class LocalModelStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("basalt-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ModelFile(string name, long bytes)
    {
        var path = Path.Combine(_dir, name);
        using var f = File.Create(path);
        f.SetLength(bytes);
        return path;
    }

    [Fact]
    public async Task AcquireAsync_SameModelTwice_LoadsOnce()
    {
        var loads = 0;
        using var store = new LocalModelStore(_ => { loads++; return new ScriptedLocalModel(); }, new LocalProviderOptions(), sweepAutomatically: false);
        (await store.AcquireAsync("m", "/m.gguf", default)).Dispose();
        (await store.AcquireAsync("m", "/m.gguf", default)).Dispose();
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task SweepIdle_AfterKeepAlive_UnloadsAndNextUseReloads()
    {
        var time = new ManualTime();
        var models = new List<ScriptedLocalModel>();
        using var store = new LocalModelStore(_ => { var m = new ScriptedLocalModel(); models.Add(m); return m; },
            new LocalProviderOptions { KeepAlive = TimeSpan.FromMinutes(5) }, time, sweepAutomatically: false);
        (await store.AcquireAsync("m", "/m.gguf", default)).Dispose();
        time.Now += TimeSpan.FromMinutes(4);
        store.SweepIdle();
        Assert.Single(store.LoadedPaths);
        time.Now += TimeSpan.FromMinutes(2);
        store.SweepIdle();
        Assert.Empty(store.LoadedPaths);
        Assert.True(models[0].Disposed);
        (await store.AcquireAsync("m", "/m.gguf", default)).Dispose();
        Assert.Equal(2, models.Count);
    }

    [Fact]
    public async Task SweepIdle_ModelInUse_StaysLoaded()
    {
        var time = new ManualTime();
        using var store = new LocalModelStore(_ => new ScriptedLocalModel(), new LocalProviderOptions { KeepAlive = TimeSpan.FromSeconds(1) }, time, sweepAutomatically: false);
        using var lease = await store.AcquireAsync("m", "/m.gguf", default);
        time.Now += TimeSpan.FromHours(1);
        store.SweepIdle();
        Assert.Single(store.LoadedPaths);
    }

    [Fact]
    public async Task AcquireAsync_OverMemoryBudget_EvictsTheLeastRecentlyUsedIdleModel()
    {
        var time = new ManualTime();
        var a = ModelFile("a.gguf", 3 * 1024 * 1024);
        var b = ModelFile("b.gguf", 3 * 1024 * 1024);
        var c = ModelFile("c.gguf", 3 * 1024 * 1024);
        var loaded = new Dictionary<string, ScriptedLocalModel>();
        using var store = new LocalModelStore(p => loaded[p] = new ScriptedLocalModel { WeightBytes = new FileInfo(p).Length },
            new LocalProviderOptions { MemoryBudgetBytes = 7 * 1024 * 1024 }, time, sweepAutomatically: false);
        (await store.AcquireAsync("a", a, default)).Dispose();
        time.Now += TimeSpan.FromSeconds(1);
        (await store.AcquireAsync("b", b, default)).Dispose();
        time.Now += TimeSpan.FromSeconds(1);
        (await store.AcquireAsync("c", c, default)).Dispose();
        Assert.True(loaded[a].Disposed);
        Assert.False(loaded[b].Disposed);
        Assert.Equal(new[] { b, c }.Order(), store.LoadedPaths.Order());
    }

    [Fact]
    public async Task AcquireAsync_ModelLargerThanBudget_ThrowsServiceUnavailable()
    {
        var big = ModelFile("big.gguf", 5 * 1024 * 1024);
        using var store = new LocalModelStore(_ => new ScriptedLocalModel(), new LocalProviderOptions { MemoryBudgetBytes = 4 * 1024 * 1024 }, sweepAutomatically: false);
        var ex = await Assert.ThrowsAsync<BasaltException>(() => store.AcquireAsync("big", big, default));
        Assert.Equal(ErrorKind.ServiceUnavailable, ex.Kind);
        Assert.Contains("memoryBudgetMb", ex.Message);
    }

    [Fact]
    public async Task AcquireAsync_LoaderFails_ThrowsModelErrorNamingTheFile()
    {
        using var store = new LocalModelStore(_ => throw new InvalidDataException("not a GGUF file"), new LocalProviderOptions(), sweepAutomatically: false);
        var ex = await Assert.ThrowsAsync<BasaltException>(() => store.AcquireAsync("m", "/x.gguf", default));
        Assert.Equal(ErrorKind.ModelError, ex.Kind);
        Assert.Contains("/x.gguf: not a GGUF file", ex.Message);
    }

    [Fact]
    public async Task AcquireAsync_ModelLoadedWithAWarning_LogsItOnce()
    {
        var logger = new RecordingLogger();
        using var store = new LocalModelStore(_ => new ScriptedLocalModel { LoadWarning = "weights kept on the mapping" }, new LocalProviderOptions(),
            sweepAutomatically: false, logger: logger);
        (await store.AcquireAsync("m", "/m.gguf", default)).Dispose();
        (await store.AcquireAsync("m", "/m.gguf", default)).Dispose();
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("weights kept on the mapping", warning.Message);
        Assert.Contains("'m'", warning.Message);
    }

    private sealed class RecordingLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
                Entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
