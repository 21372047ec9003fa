using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.Bedrock;

/// <summary>The control plane's ListFoundationModels and GetFoundationModel over the model catalog.</summary>
internal static class FoundationModels
{
    /// <summary>The region named in model ARNs; a self-hosted gateway has no AWS region.</summary>
    public const string Region = "local";

    private const string ArnPrefix = "arn:aws:bedrock:" + Region + "::foundation-model/";

    private static readonly string[] CustomizationTypes = ["FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"];
    private static readonly string[] Modalities = ["TEXT", "IMAGE", "EMBEDDING"];
    private static readonly string[] InferenceTypes = ["ON_DEMAND", "PROVISIONED"];

    /// <summary>GET /foundation-models with the byProvider, byCustomizationType, byOutputModality and byInferenceType filters.</summary>
    public static async Task ListAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var byProvider = Filter(query, "byProvider", null);
        var byCustomization = Filter(query, "byCustomizationType", CustomizationTypes);
        var byOutput = Filter(query, "byOutputModality", Modalities);
        var byInference = Filter(query, "byInferenceType", InferenceTypes);
        if (byProvider is not null && (byProvider.Length is 0 or > 63 || !byProvider.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or ' ')))
            throw BasaltException.Validation("byProvider: must be 1 to 63 letters, digits, spaces or '-'.");
        var catalog = Gateway(context).Catalog;
        await BedrockRuntimeEndpoints.WriteJsonAsync(context, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("modelSummaries");
            foreach (var m in catalog.Models)
            {
                if (byProvider is not null && !string.Equals(ProviderName(m), byProvider, StringComparison.OrdinalIgnoreCase))
                    continue;
                // Basalt serves models as they are: nothing is customizable or provisioned.
                if (byCustomization is not null || byInference == "PROVISIONED")
                    continue;
                if (byOutput is not null && byOutput != OutputModality(m))
                    continue;
                WriteModel(w, m);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>GET /foundation-models/{modelIdentifier}: a model by id, alias or foundation-model ARN.</summary>
    public static Task GetAsync(HttpContext context, string identifier)
    {
        if (identifier.Length is 0 or > 2048)
            throw BasaltException.Validation("modelIdentifier: must be 1 to 2048 characters.");
        var id = identifier;
        var slash = id.IndexOf(":foundation-model/", StringComparison.Ordinal);
        if (id.StartsWith("arn:", StringComparison.Ordinal) && slash > 0)
            id = id[(slash + ":foundation-model/".Length)..];
        if (!Gateway(context).Catalog.TryResolve(id, out var model))
            throw BasaltException.NotFound($"The model '{identifier}' does not exist. List the available models with GET /foundation-models.");
        return BedrockRuntimeEndpoints.WriteJsonAsync(context, w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("modelDetails");
            WriteModel(w, model);
            w.WriteEndObject();
        });
    }

    private static void WriteModel(Utf8JsonWriter w, ModelEntry m)
    {
        w.WriteStartObject();
        w.WriteString("modelArn", ArnPrefix + m.Id);
        w.WriteString("modelId", m.Id);
        w.WriteString("modelName", m.DisplayName ?? m.Id);
        w.WriteString("providerName", ProviderName(m));
        w.WriteStartArray("inputModalities");
        w.WriteStringValue("TEXT");
        if (m.Capabilities.Vision)
            w.WriteStringValue("IMAGE");
        w.WriteEndArray();
        w.WriteStartArray("outputModalities");
        w.WriteStringValue(OutputModality(m));
        w.WriteEndArray();
        w.WriteBoolean("responseStreamingSupported", m.Capabilities.Streaming && !m.Capabilities.Embeddings);
        w.WriteStartArray("customizationsSupported");
        w.WriteEndArray();
        w.WriteStartArray("inferenceTypesSupported");
        w.WriteStringValue("ON_DEMAND");
        w.WriteEndArray();
        w.WriteStartObject("modelLifecycle");
        w.WriteString("status", "ACTIVE");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static string ProviderName(ModelEntry m) => m.ProviderName ?? m.Provider;

    private static string OutputModality(ModelEntry m) => m.Capabilities.Embeddings ? "EMBEDDING" : "TEXT";

    private static string? Filter(IQueryCollection query, string name, string[]? allowed)
    {
        if (!query.TryGetValue(name, out var values) || values.Count == 0)
            return null;
        var value = values[0] ?? "";
        if (allowed is not null && Array.IndexOf(allowed, value) < 0)
            throw BasaltException.Validation($"{name}: '{value}' is not one of {string.Join(", ", allowed)}.");
        return value;
    }

    private static Gateway Gateway(HttpContext context) => context.RequestServices.GetService(typeof(Gateway)) as Gateway
        ?? throw new InvalidOperationException("The Gateway service is not registered.");
}
