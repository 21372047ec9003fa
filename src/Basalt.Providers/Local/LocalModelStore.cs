using System.Diagnostics;
using Basalt.Core.Conversation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Providers.Local;

/// <summary>Keeps local models loaded: loads on first use, serves one generation at a time per model (others queue) unless the
/// model batches concurrent generations itself (<see cref="ILocalModel.RunsConcurrently"/>),
/// unloads after the keep-alive idle time, and evicts idle models when loading another would exceed the memory budget.</summary>
internal sealed class LocalModelStore : IDisposable
{
    private sealed class Slot(string path)
    {
        public readonly string Path = path;
        public readonly SemaphoreSlim Gate = new(1, 1);
        public ILocalModel? Model;
        public int Active;          // leases held or waited for
        public DateTimeOffset LastUsed;
    }

    private readonly Func<string, ILocalModel> _load;
    private readonly LocalProviderOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private readonly ITimer? _sweeper;
    private readonly ILogger _logger;
    private bool _disposed;

    public LocalModelStore(Func<string, ILocalModel> load, LocalProviderOptions options, TimeProvider? time = null, bool sweepAutomatically = true, ILogger? logger = null)
    {
        _load = load;
        _logger = logger ?? NullLogger.Instance;
        _options = options;
        _time = time ?? TimeProvider.System;
        if (sweepAutomatically && options.KeepAlive > TimeSpan.Zero)
        {
            var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, options.KeepAlive.Ticks / 4));
            _sweeper = _time.CreateTimer(_ => SweepIdle(), null, period, period);
        }
    }

    /// <summary>A model reserved for one generation; dispose to let the next request in.</summary>
    public sealed class Lease(LocalModelStore store, object slot, ILocalModel model, bool holdsGate) : IDisposable
    {
        private int _released;

        public ILocalModel Model { get; } = model;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                store.Release((Slot)slot, holdsGate);
        }
    }

    /// <summary>Paths of the models loaded now.</summary>
    public IReadOnlyList<string> LoadedPaths
    {
        get
        {
            lock (_slots)
            {
                var list = new List<string>();
                foreach (var s in _slots.Values)
                    if (s.Model is not null) list.Add(s.Path);
                return list;
            }
        }
    }

    /// <summary>Waits for the model at <paramref name="path"/> to be free (loading it if needed) and reserves it.</summary>
    public async Task<Lease> AcquireAsync(string modelId, string path, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Slot slot;
        lock (_slots)
        {
            if (!_slots.TryGetValue(path, out slot!))
                _slots[path] = slot = new Slot(path);
            slot.Active++;
        }
        var entered = false;
        try
        {
            await slot.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            entered = true;
            if (slot.Model is null)
                await LoadAsync(modelId, slot, cancellationToken).ConfigureAwait(false);
            var model = slot.Model!;
            if (model.RunsConcurrently)
            {
                // The gate only serialised the load: the model's own scheduler runs the generations together.
                entered = false;
                slot.Gate.Release();
            }
            return new Lease(this, slot, model, holdsGate: entered);
        }
        catch
        {
            if (entered) slot.Gate.Release();
            lock (_slots)
            {
                slot.Active--;
                slot.LastUsed = _time.GetUtcNow();
            }
            throw;
        }
    }

    private async Task LoadAsync(string modelId, Slot slot, CancellationToken cancellationToken)
    {
        await _loadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var size = File.Exists(slot.Path) ? new FileInfo(slot.Path).Length : 0;
            MakeRoom(modelId, slot, size);
            ILocalModel model;
            var started = Stopwatch.GetTimestamp();
            try
            {
                model = await Task.Run(() => _load(slot.Path), cancellationToken).ConfigureAwait(false);
                LocalLog.ModelLoaded(_logger, modelId, slot.Path, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, model.WeightBytes / (1024 * 1024));
                if (model.LoadWarning is { } warning)
                    LocalLog.ModelLoadWarning(_logger, modelId, slot.Path, warning);
            }
            catch (Exception e) when (e is not OperationCanceledException and not BasaltException)
            {
                throw new BasaltException(ErrorKind.ModelError, $"The model '{modelId}' could not be loaded from {slot.Path}: {e.Message}", e);
            }
            lock (_slots)
                slot.Model = model;
        }
        finally
        {
            _loadLock.Release();
        }
    }

    /// <summary>Unloads idle models, least recently used first, until <paramref name="size"/> more bytes fit the budget.</summary>
    private void MakeRoom(string modelId, Slot loading, long size)
    {
        var budget = _options.MemoryBudgetBytes;
        if (budget <= 0)
            return;
        if (size > budget)
            throw new BasaltException(ErrorKind.ServiceUnavailable,
                $"The model '{modelId}' needs {size / (1024 * 1024)} MB, more than the local provider's memory budget of {budget / (1024 * 1024)} MB. Raise memoryBudgetMb in the provider's config.");
        var toDispose = new List<ILocalModel>();
        lock (_slots)
        {
            long used = 0;
            var idle = new List<Slot>();
            foreach (var s in _slots.Values)
            {
                if (s.Model is null || s == loading) continue;
                used += s.Model.WeightBytes;
                if (s.Active == 0) idle.Add(s);
            }
            idle.Sort((a, b) => a.LastUsed.CompareTo(b.LastUsed));
            foreach (var s in idle)
            {
                if (used + size <= budget) break;
                used -= s.Model!.WeightBytes;
                toDispose.Add(s.Model);
                s.Model = null;
                LocalLog.ModelEvicted(_logger, s.Path, modelId);
            }
            if (used + size > budget)
                throw new BasaltException(ErrorKind.ModelNotReady,
                    $"The model '{modelId}' cannot be loaded now: other local models in use fill the memory budget of {budget / (1024 * 1024)} MB. Retry shortly.");
        }
        foreach (var m in toDispose)
            m.Dispose();
    }

    private void Release(Slot slot, bool holdsGate)
    {
        lock (_slots)
        {
            slot.Active--;
            slot.LastUsed = _time.GetUtcNow();
        }
        if (holdsGate)
            slot.Gate.Release();
    }

    /// <summary>Unloads every model idle for longer than the keep-alive (called by a timer).</summary>
    public void SweepIdle()
    {
        var toDispose = new List<ILocalModel>();
        var now = _time.GetUtcNow();
        lock (_slots)
        {
            foreach (var s in _slots.Values)
            {
                if (s.Model is not null && s.Active == 0 && now - s.LastUsed >= _options.KeepAlive)
                {
                    toDispose.Add(s.Model);
                    s.Model = null;
                    LocalLog.ModelUnloadedIdle(_logger, s.Path, _options.KeepAlive);
                }
            }
        }
        foreach (var m in toDispose)
            m.Dispose();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _sweeper?.Dispose();
        lock (_slots)
        {
            foreach (var s in _slots.Values)
            {
                s.Model?.Dispose();
                s.Model = null;
            }
        }
    }
}
