using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Providers.Http;
using Basalt.Providers.OpenAi;

namespace Basalt.Providers.Anthropic;

/// <summary>A client of Anthropic's Messages API (POST /v1/messages, x-api-key, anthropic-version 2023-06-01).</summary>
internal sealed class AnthropicClient(string name, Uri baseUrl, string? apiKey, HttpClient http) : IConverseClient
{
    /// <summary>Where Anthropic serves its API.</summary>
    public const string DefaultBaseUrl = "https://api.anthropic.com";

    /// <summary>The API version header value this mapping follows.</summary>
    public const string ApiVersion = "2023-06-01";

    // A baseUrl given with or without its /v1 suffix both work.
    private readonly string _prefix = baseUrl.AbsolutePath.EndsWith("/v1/", StringComparison.Ordinal) ? "" : "v1/";

    /// <inheritdoc />
    public async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        using var message = NewRequest("messages", AnthropicMapping.BuildRequest(request, stream: false));
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        using var doc = Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        return AnthropicMapping.ParseResponse(doc.RootElement, name, stopwatch.ElapsedMilliseconds);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        using var message = NewRequest("messages", AnthropicMapping.BuildRequest(request, stream: true));
        message.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var translator = new AnthropicStreamTranslator(name);
        var events = new List<ConverseStreamEvent>();
        await foreach (var sse in ServerSentEvents.ReadAsync(body, name, cancellationToken).ConfigureAwait(false))
        {
            using (var data = Parse(sse.Data))
                translator.Feed(data.RootElement, events);
            foreach (var e in events)
                yield return e;
            events.Clear();
            if (translator.Done)
                break;
        }
        translator.Finish(stopwatch.ElapsedMilliseconds, events);
        foreach (var e in events)
            yield return e;
    }

    /// <summary>Counts with Anthropic's own POST /v1/messages/count_tokens.</summary>
    public async Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        using var message = NewRequest("messages/count_tokens", AnthropicMapping.BuildRequest(request, stream: false, forCounting: true));
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        using var doc = Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        if (!doc.RootElement.TryGetProperty("input_tokens", out var tokens) || !tokens.TryGetInt32(out var count))
            throw UpstreamError.Malformed(name, "a count_tokens answer without input_tokens");
        return count;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
        => serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    /// <inheritdoc />
    public void Dispose() => http.Dispose();

    private HttpRequestMessage NewRequest(string path, JsonObject body)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl, _prefix + path))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (!string.IsNullOrEmpty(apiKey))
            message.Headers.TryAddWithoutValidation("x-api-key", apiKey);
        message.Headers.TryAddWithoutValidation("anthropic-version", ApiVersion);
        return message;
    }

    private JsonDocument Parse(string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw UpstreamError.Malformed(name, "invalid JSON", ex);
        }
    }
}

/// <summary>Builds <see cref="AnthropicClient"/>s for providers of type "anthropic".</summary>
internal sealed class AnthropicProviderFactory : IProviderFactory
{
    /// <inheritdoc />
    public string Type => "anthropic";

    /// <inheritdoc />
    public IConverseClient Create(ProviderContext context)
        => new AnthropicClient(context.Name, OpenAiProviderFactory.BaseUri(context.Config.BaseUrl ?? AnthropicClient.DefaultBaseUrl, context.Name),
            context.Config.ResolveApiKey() ?? Environment.GetEnvironmentVariable("ANTHROPIC_API_KEY"), UpstreamHttp.CreateClient());
}
