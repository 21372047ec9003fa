using System.Collections.Concurrent;
using Basalt.Server.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Basalt.Server.Auth;

/// <summary>Remembers when each key was last used and writes the times in one batch every
/// <see cref="FlushInterval"/> (and at shutdown), so authenticating a request never writes to the database.</summary>
internal sealed class LastUsedRecorder(IStateStore store, ILogger<LastUsedRecorder> logger) : BackgroundService
{
    /// <summary>How stale "last used" may be in the store.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(15);

    private ConcurrentDictionary<string, DateTimeOffset> _pending = new(StringComparer.Ordinal);

    /// <summary>Notes a use; the latest time per key wins.</summary>
    public void Touch(string keyId, DateTimeOffset at) => _pending[keyId] = at;

    /// <summary>Writes the pending times now.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var batch = Interlocked.Exchange(ref _pending, new ConcurrentDictionary<string, DateTimeOffset>(StringComparer.Ordinal));
        if (batch.IsEmpty)
            return;
        try
        {
            await store.TouchKeysAsync(batch.ToArray(), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            AuthLog.LastUsedFlushFailed(logger, batch.Count, e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await FlushAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(CancellationToken.None);
    }
}
