using Basalt.Core.Catalog;

namespace Basalt.Server.State;

/// <summary>Opens the state store a configuration names.</summary>
public static class StateStore
{
    /// <summary>Opens and migrates the store: SQLite in <see cref="ServerConfig.DataDir"/>.</summary>
    public static async Task<IStateStore> OpenAsync(ServerConfig server, CancellationToken cancellationToken = default)
        => await SqliteStateStore.OpenAsync(server.DataDir, cancellationToken);
}
