using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Providers.Http;

namespace Basalt.Providers.OpenAi;

/// <summary>A client of any OpenAI-compatible chat completions server (OpenAI, vLLM, llama.cpp server, Ollama's /v1).</summary>
internal sealed class OpenAiClient(string name, Uri baseUrl, string? apiKey, HttpClient http) : IConverseClient
{
    /// <summary>Where OpenAI itself serves its API.</summary>
    public const string DefaultBaseUrl = "https://api.openai.com/v1";

    private readonly Uri _chatCompletions = new(baseUrl, "chat/completions");

    /// <inheritdoc />
    public async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        using var message = NewRequest(request, stream: false);
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        using var doc = await ParseAsync(response, cancellationToken).ConfigureAwait(false);
        return OpenAiMapping.ParseResponse(doc.RootElement, name, stopwatch.ElapsedMilliseconds);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        using var message = NewRequest(request, stream: true);
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var translator = new OpenAiStreamTranslator(name);
        var events = new List<ConverseStreamEvent>();
        await foreach (var sse in ServerSentEvents.ReadAsync(body, name, cancellationToken).ConfigureAwait(false))
        {
            if (sse.Data == "[DONE]")
                break;
            using (var chunk = Parse(sse.Data))
                translator.Feed(chunk.RootElement, events);
            foreach (var e in events)
                yield return e;
            events.Clear();
        }
        translator.Finish(stopwatch.ElapsedMilliseconds, events);
        foreach (var e in events)
            yield return e;
    }

    /// <summary>An estimate: the OpenAI chat completions API has no tokenizer endpoint, so this counts about four
    /// characters per token of the request as it would be sent (see <see cref="OpenAiMapping.EstimateTokens"/>).</summary>
    public Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
        => Task.FromResult(OpenAiMapping.EstimateTokens(request));

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
        => serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    /// <inheritdoc />
    public void Dispose() => http.Dispose();

    private HttpRequestMessage NewRequest(ConverseRequest request, bool stream)
    {
        // Written straight to UTF-8: no intermediate string and no second encoding pass.
        var json = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(json))
            OpenAiMapping.BuildRequest(request, stream).WriteTo(writer);
        var body = new ReadOnlyMemoryContent(json.WrittenMemory);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var message = new HttpRequestMessage(HttpMethod.Post, _chatCompletions) { Content = body };
        if (!string.IsNullOrEmpty(apiKey))
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        if (stream)
            message.Headers.Accept.ParseAdd("text/event-stream");
        return message;
    }

    private async Task<JsonDocument> ParseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // The body is already buffered (ResponseContentRead); parse its UTF-8 bytes without decoding them to a string.
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw UpstreamError.Malformed(name, "invalid JSON", ex);
        }
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

/// <summary>Builds <see cref="OpenAiClient"/>s for providers of type "openai".</summary>
internal sealed class OpenAiProviderFactory : IProviderFactory
{
    /// <inheritdoc />
    public string Type => "openai";

    /// <inheritdoc />
    public IConverseClient Create(ProviderContext context)
        => new OpenAiClient(context.Name, BaseUri(context.Config.BaseUrl ?? OpenAiClient.DefaultBaseUrl, context.Name),
            context.Config.ResolveApiKey(), UpstreamHttp.CreateClient());

    /// <summary>The base URL with a trailing slash, so relative paths append instead of replacing its last segment.</summary>
    internal static Uri BaseUri(string baseUrl, string provider)
    {
        if (!Uri.TryCreate(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new InvalidDataException($"providers.{provider}.baseUrl '{baseUrl}' is not an absolute http(s) URL.");
        return uri;
    }
}
