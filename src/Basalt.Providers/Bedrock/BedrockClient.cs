using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Basalt.Core.Aws;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Providers.Http;
using Basalt.Providers.OpenAi;

namespace Basalt.Providers.Bedrock;

/// <summary>How the Bedrock client authenticates: SigV4 with AWS credentials, or a Bedrock API key sent as a Bearer token.</summary>
internal sealed record BedrockAuth(AwsCredentials? Credentials, string? ApiKey);

/// <summary>A client of Amazon Bedrock's runtime (Converse, ConverseStream, CountTokens), signed with SigV4 (service "bedrock").</summary>
internal sealed class BedrockClient(string name, Uri baseUrl, string region, BedrockAuth auth, HttpClient http, TimeProvider? clock = null) : IConverseClient
{
    /// <summary>The SigV4 service name of bedrock-runtime.</summary>
    public const string SigningService = "bedrock";

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <inheritdoc />
    public async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        using var message = await NewRequestAsync(request.ModelId, "converse", w => BedrockMapping.WriteRequest(w, request), cancellationToken).ConfigureAwait(false);
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        using var doc = Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        return BedrockMapping.ReadResponse(doc.RootElement, name);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        using var message = await NewRequestAsync(request.ModelId, "converse-stream", w => BedrockMapping.WriteRequest(w, request), cancellationToken).ConfigureAwait(false);
        message.Headers.Accept.ParseAdd("application/vnd.amazon.eventstream");
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using var frames = EventStreamDecoder.ReadAllAsync(body, cancellationToken).GetAsyncEnumerator(cancellationToken);
        var sawStop = false;
        var sawMetadata = false;
        while (await NextFrameAsync(frames).ConfigureAwait(false))
        {
            var e = Translate(frames.Current);
            if (e is null)
                continue;
            sawStop |= e is MessageStopEvent;
            sawMetadata |= e is MetadataEvent;
            yield return e;
        }
        if (!sawStop)
            throw UpstreamError.Malformed(name, "a stream that ended before messageStop");
        // Bedrock ends with metadata; should it be missing, the caller still gets the event the contract promises.
        if (!sawMetadata)
            yield return new MetadataEvent(new TokenUsage(0, 0), stopwatch.ElapsedMilliseconds);
    }

    /// <summary>Counts with Bedrock's own CountTokens operation (POST /model/{id}/count-tokens).</summary>
    public async Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        using var message = await NewRequestAsync(request.ModelId, "count-tokens", w => BedrockMapping.WriteCountTokensRequest(w, request), cancellationToken).ConfigureAwait(false);
        using var response = await UpstreamHttp.SendAsync(http, message, name, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        using var doc = Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        if (!doc.RootElement.TryGetProperty("inputTokens", out var tokens) || !tokens.TryGetInt32(out var count))
            throw UpstreamError.Malformed(name, "a CountTokens answer without inputTokens");
        return count;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
        => serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    /// <inheritdoc />
    public void Dispose() => http.Dispose();

    private async Task<HttpRequestMessage> NewRequestAsync(string modelId, string operation, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
            write(writer);
        // The model id may be an ARN with ':' and '/': escaped into one path segment, as the AWS SDKs do.
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl, $"model/{Uri.EscapeDataString(modelId)}/{operation}"))
        {
            Content = new ByteArrayContent(buffer.WrittenMemory.ToArray()),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (auth.Credentials is { } credentials)
            await SigV4.SignAsync(message, credentials, region, SigningService, _clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        else if (auth.ApiKey is { } key)
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return message;
    }

    private async ValueTask<bool> NextFrameAsync(IAsyncEnumerator<EventStreamMessage> frames)
    {
        try
        {
            return await frames.MoveNextAsync().ConfigureAwait(false);
        }
        catch (EventStreamFormatException ex)
        {
            throw UpstreamError.Malformed(name, "a corrupt event-stream frame (" + ex.Message + ")", ex);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            throw UpstreamError.Unreachable(name, ex);
        }
    }

    private ConverseStreamEvent? Translate(EventStreamMessage frame)
    {
        switch (frame.StringHeader(":message-type"))
        {
            case "event":
                var eventType = frame.StringHeader(":event-type") ?? "";
                using (var doc = Parse(frame.Payload.ToArray()))
                    return BedrockMapping.ReadEvent(eventType, doc.RootElement, name);
            case "exception":
            {
                var type = frame.StringHeader(":exception-type");
                var kind = BedrockMapping.ErrorKindOf(type);
                var detail = UpstreamHttp.ErrorMessage(frame.PayloadText);
                var ex = new BasaltException(kind, $"The upstream provider '{name}' failed mid-stream with {type}: {detail}");
                throw UpstreamError.Mark(ex, kind is ErrorKind.Throttling or ErrorKind.ServiceUnavailable or ErrorKind.ModelNotReady);
            }
            case "error":
                throw new BasaltException(ErrorKind.ModelError,
                    $"The upstream provider '{name}' failed mid-stream with {frame.StringHeader(":error-code")}: {frame.StringHeader(":error-message")}");
            default:
                return null;
        }
    }

    private JsonDocument Parse(byte[] json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw UpstreamError.Malformed(name, "invalid JSON", ex);
        }
    }
}

/// <summary>Builds <see cref="BedrockClient"/>s for providers of type "bedrock".</summary>
internal sealed class BedrockProviderFactory : IProviderFactory
{
    /// <inheritdoc />
    public string Type => "bedrock";

    /// <inheritdoc />
    public IConverseClient Create(ProviderContext context)
    {
        var config = context.Config;
        var region = config.Region ?? Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1";
        var baseUrl = config.BaseUrl ?? $"https://bedrock-runtime.{region}.amazonaws.com";
        var accessKey = config.AccessKeyId ?? Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");
        var secret = config.SecretAccessKey ?? Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        var token = config.SessionToken ?? (config.AccessKeyId is null ? Environment.GetEnvironmentVariable("AWS_SESSION_TOKEN") : null);
        var credentials = !string.IsNullOrEmpty(accessKey) && !string.IsNullOrEmpty(secret) ? new AwsCredentials(accessKey, secret, token) : null;
        var apiKey = config.ResolveApiKey() ?? Environment.GetEnvironmentVariable("AWS_BEARER_TOKEN_BEDROCK");
        if (credentials is null && apiKey is null)
            throw new InvalidDataException($"providers.{context.Name} (bedrock) has no credentials: set accessKeyId/secretAccessKey (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or a Bedrock API key in apiKey/apiKeyEnv.");
        return new BedrockClient(context.Name, OpenAiProviderFactory.BaseUri(baseUrl, context.Name), region,
            new BedrockAuth(credentials, apiKey), UpstreamHttp.CreateClient());
    }
}
