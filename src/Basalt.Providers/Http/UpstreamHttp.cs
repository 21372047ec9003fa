using System.Net;
using System.Text.Json;
using Basalt.Core.Providers;

namespace Basalt.Providers.Http;

/// <summary>Sends a request to an upstream and turns transport failures and error statuses into BasaltExceptions.</summary>
internal static class UpstreamHttp
{
    /// <summary>Longest upstream error text quoted back to the caller.</summary>
    private const int MaxQuotedErrorChars = 1000;

    /// <summary>An HttpClient for one provider instance; timeouts belong to the pipeline's timeout decorator, not to HttpClient.</summary>
    public static HttpClient CreateClient(HttpMessageHandler? handler = null)
        => new(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AutomaticDecompression = DecompressionMethods.All })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

    /// <summary>Sends the request; returns the response only when its status is a success.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, string provider,
        HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw UpstreamError.Unreachable(provider, ex);
        }
        if (response.IsSuccessStatusCode)
            return response;
        using (response)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException)
            {
                body = "";
            }
            var retryAfter = response.Headers.RetryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - DateTimeOffset.UtcNow,
                _ => (TimeSpan?)null,
            };
            throw UpstreamError.WithRetryAfter(UpstreamError.FromStatus(provider, (int)response.StatusCode, ErrorMessage(body)), retryAfter);
        }
    }

    /// <summary>The message of an upstream error body: OpenAI and Anthropic {"error":{"message"}}, Bedrock {"message"}, or the raw text.</summary>
    public static string? ErrorMessage(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
            return null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var error))
                {
                    if (error.ValueKind == JsonValueKind.String)
                        return Quote(error.GetString());
                    if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                        return Quote(m.GetString());
                }
                foreach (var name in (ReadOnlySpan<string>)["message", "Message", "detail"])
                    if (root.TryGetProperty(name, out var m) && m.ValueKind == JsonValueKind.String)
                        return Quote(m.GetString());
            }
        }
        catch (JsonException)
        {
        }
        return Quote(body.Trim());
    }

    private static string? Quote(string? text)
        => text is null ? null : text.Length <= MaxQuotedErrorChars ? text : text[..MaxQuotedErrorChars] + "...";
}
