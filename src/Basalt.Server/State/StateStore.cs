using Basalt.Core.Catalog;

namespace Basalt.Server.State;

/// <summary>Opens the state store a configuration names.</summary>
public static class StateStore
{
    /// <summary>Opens and migrates the store: PostgreSQL when <see cref="ServerConfig.Database"/> is set, else SQLite in
    /// <see cref="ServerConfig.DataDir"/> (which holds the master key either way).</summary>
    public static async Task<IStateStore> OpenAsync(ServerConfig server, CancellationToken cancellationToken = default)
        => string.IsNullOrWhiteSpace(server.Database)
            ? await SqliteStateStore.OpenAsync(server.DataDir, cancellationToken)
            : await PostgresStateStore.OpenAsync(server.Database, cancellationToken);
}
