using System.Runtime.CompilerServices;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;
using Basalt.Server.Auth;
using Basalt.Server.Operations;

namespace Basalt.Server.Metering;

/// <summary>Counts each call's tokens and cost (catalog prices) by model and calling key; streamed calls are counted from
/// their metadata event. Model labels are the catalog id, so aliases add up under one name.</summary>
internal sealed class MeteringClient(IConverseClient inner, ModelCatalog catalog, ServerMetrics metrics) : DelegatingConverseClient(inner)
{
    public override async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        var response = await base.ConverseAsync(request, cancellationToken);
        Record(request.ModelId, response.Usage);
        return response;
    }

    public override async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Read the caller now: the enumeration may continue on another flow than the one that started it.
        var key = Caller.Current?.KeyName ?? Caller.AnonymousLabel;
        TokenUsage? usage = null;
        try
        {
            await foreach (var e in base.ConverseStreamAsync(request, cancellationToken).WithCancellation(cancellationToken))
            {
                if (e is MetadataEvent m)
                    usage = m.Usage;
                yield return e;
            }
        }
        finally
        {
            // A stream cut short still counts as a call; its tokens are unknown without the metadata event.
            Record(request.ModelId, usage ?? new TokenUsage(0, 0), key);
        }
    }

    /// <summary>The cost of a call in USD at the model's catalog prices (cache reads and writes are priced as input).</summary>
    public static decimal Cost(ModelEntry? model, TokenUsage usage)
    {
        if (model is null)
            return 0m;
        decimal input = usage.InputTokens + usage.CacheReadInputTokens + usage.CacheWriteInputTokens;
        return (input * model.InputPricePerMillion + usage.OutputTokens * model.OutputPricePerMillion) / 1_000_000m;
    }

    private void Record(string modelId, TokenUsage usage, string? key = null)
    {
        var entry = catalog.TryResolve(modelId, out var e) ? e : null;
        metrics.RecordUsage(entry?.Id ?? modelId, key ?? Caller.Current?.KeyName ?? Caller.AnonymousLabel,
            usage.InputTokens, usage.OutputTokens, usage.CacheReadInputTokens, usage.CacheWriteInputTokens, Cost(entry, usage));
    }
}

/// <summary>Builder extension for <see cref="MeteringClient"/>.</summary>
internal static class MeteringBuilderExtensions
{
    /// <summary>Meters tokens and cost by model and key into <paramref name="metrics"/>.</summary>
    public static ConverseClientBuilder UseMetering(this ConverseClientBuilder builder, ModelCatalog catalog, ServerMetrics metrics)
        => builder.Use(inner => new MeteringClient(inner, catalog, metrics));
}
