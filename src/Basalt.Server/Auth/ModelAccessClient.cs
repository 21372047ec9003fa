using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;

namespace Basalt.Server.Auth;

/// <summary>Refuses calls to models outside the caller's allow-list (AccessDeniedException / 403); names and aliases of the
/// same catalog model are interchangeable.</summary>
internal sealed class ModelAccessClient(IConverseClient inner, ModelCatalog catalog) : DelegatingConverseClient(inner)
{
    public override Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        Check(request.ModelId);
        return base.ConverseAsync(request, cancellationToken);
    }

    public override IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        Check(request.ModelId);
        return base.ConverseStreamAsync(request, cancellationToken);
    }

    public override Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        Check(request.ModelId);
        return base.CountTokensAsync(request, cancellationToken);
    }

    /// <summary>True when <paramref name="caller"/> may call <paramref name="modelId"/> (null caller: in-process, allowed).</summary>
    public static bool IsAllowed(Caller? caller, string modelId, ModelCatalog catalog)
    {
        if (caller is null || caller.AllowedModels.Count == 0)
            return true;
        var canonical = catalog.TryResolve(modelId, out var entry) ? entry.Id : modelId;
        foreach (var allowed in caller.AllowedModels)
        {
            if (allowed == modelId)
                return true;
            if (catalog.TryResolve(allowed, out var a) && a.Id == canonical)
                return true;
        }
        return false;
    }

    private void Check(string modelId)
    {
        var caller = Caller.Current;
        if (!IsAllowed(caller, modelId, catalog))
            throw new BasaltException(ErrorKind.AccessDenied,
                $"The API key '{caller!.KeyName}' is not allowed to call the model '{modelId}'; it may call: {string.Join(", ", caller.AllowedModels)}. Ask the operator for a key with access.");
    }
}

/// <summary>Builder extension for <see cref="ModelAccessClient"/>.</summary>
internal static class ModelAccessBuilderExtensions
{
    /// <summary>Enforces each key's model allow-list.</summary>
    public static ConverseClientBuilder UseModelAccess(this ConverseClientBuilder builder, ModelCatalog catalog)
        => builder.Use(inner => new ModelAccessClient(inner, catalog));
}
