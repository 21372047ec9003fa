using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Basalt.Core.Bedrock;
using Basalt.Core.Conversation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static Basalt.Core.Bedrock.JsonInput;

namespace Basalt.Server.Bedrock;

/// <summary>The Bedrock runtime face (Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream,
/// CountTokens) and the control plane's foundation-model catalog, translated to and from the native contract.</summary>
public static class BedrockRuntimeEndpoints
{
    private const string ModelPrefix = "/model/";
    /// <summary>Longest model id accepted (ConversationalModelId max).</summary>
    public const int MaxModelIdLength = 2048;

    /// <summary>Maps the Bedrock runtime and foundation-model routes.</summary>
    public static IEndpointRouteBuilder MapBedrockRuntime(this IEndpointRouteBuilder app)
    {
        // One catch-all route: model ids are ARNs whose '/' may arrive encoded (%2F) or not.
        app.MapPost("/model/{**rest}", (RequestDelegate)HandleModelAsync);
        app.MapGet("/foundation-models", (RequestDelegate)FoundationModels.ListAsync);
        app.MapGet("/foundation-models/{**modelIdentifier}", (RequestDelegate)(context => FoundationModels.GetAsync(context, Uri.UnescapeDataString(RawTail(context, "/foundation-models/")))));
        return app;
    }

    private static async Task HandleModelAsync(HttpContext context)
    {
        var rest = RawTail(context, ModelPrefix);
        var slash = rest.LastIndexOf('/');
        if (slash <= 0)
            throw BasaltException.NotFound($"No operation at {context.Request.Path}; use POST /model/{{modelId}}/converse, converse-stream, invoke, invoke-with-response-stream or count-tokens.");
        var operation = rest[(slash + 1)..];
        var modelId = Uri.UnescapeDataString(rest[..slash]);
        if (modelId.Length > MaxModelIdLength)
            throw BasaltException.Validation($"modelId: must be at most {MaxModelIdLength} characters.");
        switch (operation)
        {
            case "converse":
                await ConverseAsync(context, modelId);
                break;
            case "converse-stream":
                await ConverseStreamAsync(context, modelId);
                break;
            case "invoke":
                await InvokeAsync(context, modelId, stream: false);
                break;
            case "invoke-with-response-stream":
                await InvokeAsync(context, modelId, stream: true);
                break;
            case "count-tokens":
                await CountTokensAsync(context, modelId);
                break;
            default:
                throw BasaltException.NotFound($"'{operation}' is not a model operation; use converse, converse-stream, invoke, invoke-with-response-stream or count-tokens.");
        }
    }

    private static async Task ConverseAsync(HttpContext context, string modelId)
    {
        ConverseRequest request;
        using (var body = await RequestBody.ReadAsync(context))
        using (var doc = Parse(body.Memory))
            request = ConverseRequestReader.Read(doc.RootElement, modelId, streaming: false);
        var response = await Gateway(context).Client.ConverseAsync(request, context.RequestAborted);
        await WriteJsonAsync(context, response, static (w, r) => ConverseResponseWriter.WriteResponse(w, r));
    }

    private static async Task ConverseStreamAsync(HttpContext context, string modelId)
    {
        ConverseRequest request;
        using (var body = await RequestBody.ReadAsync(context))
        using (var doc = Parse(body.Memory))
            request = ConverseRequestReader.Read(doc.RootElement, modelId, streaming: true);
        var stream = new BedrockEventStream(context.Response, context.RequestAborted);
        await RunStreamAsync(context, Gateway(context).Client.ConverseStreamAsync(request, context.RequestAborted), new ConverseSink(stream), stream, invoke: false);
    }

    private static async Task InvokeAsync(HttpContext context, string modelId, bool stream)
    {
        var contentType = context.Request.ContentType;
        if (!string.IsNullOrEmpty(contentType) && !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            throw BasaltException.Validation($"contentType: Basalt's InvokeModel accepts application/json bodies, not '{contentType}'.");
        var accept = context.Request.Headers[stream ? "X-Amzn-Bedrock-Accept" : "Accept"].ToString();
        if (accept.Length > 0 && !accept.Contains("json", StringComparison.OrdinalIgnoreCase) && !accept.Contains("*/*", StringComparison.Ordinal))
            throw BasaltException.Validation($"accept: Basalt's InvokeModel answers application/json, not '{accept}'.");
        ConverseRequest request;
        bool anthropic;
        using (var body = await RequestBody.ReadAsync(context))
        using (var doc = Parse(body.Memory))
            (request, anthropic) = ReadInvokeBody(doc.RootElement, modelId);
        request = ApplyInvokeHeaders(context.Request, request);
        var client = Gateway(context).Client;
        if (!stream)
        {
            var response = await client.ConverseAsync(request, context.RequestAborted);
            var headers = context.Response.Headers;
            headers["X-Amzn-Bedrock-Input-Token-Count"] = response.Usage.InputTokens.ToString(CultureInfo.InvariantCulture);
            headers["X-Amzn-Bedrock-Output-Token-Count"] = response.Usage.OutputTokens.ToString(CultureInfo.InvariantCulture);
            headers["X-Amzn-Bedrock-Invocation-Latency"] = response.LatencyMs.ToString(CultureInfo.InvariantCulture);
            if (response.PerformanceConfig is { } pc)
                headers["X-Amzn-Bedrock-PerformanceConfig-Latency"] = pc.Latency;
            if (anthropic)
                await WriteJsonAsync(context, (response, modelId), static (w, s) => AnthropicMessages.WriteResponse(w, s.response, s.modelId, NewMessageId()));
            else
                await WriteJsonAsync(context, response, static (w, r) => ConverseResponseWriter.WriteResponse(w, r));
            return;
        }
        var events = new BedrockEventStream(context.Response, context.RequestAborted);
        IStreamSink sink = anthropic
            ? new AnthropicSink(new AnthropicMessages.StreamTranslator(events, modelId, NewMessageId(), Stopwatch.GetTimestamp()))
            : new InvokeConverseSink(events, Stopwatch.GetTimestamp());
        if (context.Request.Headers.TryGetValue("X-Amzn-Bedrock-Accept", out _))
            context.Response.Headers["X-Amzn-Bedrock-Content-Type"] = "application/json";
        await RunStreamAsync(context, client.ConverseStreamAsync(request, context.RequestAborted), sink, events, invoke: true);
    }

    /// <summary>Reads an InvokeModel body of either supported family (see docs/invoke.md).</summary>
    internal static (ConverseRequest Request, bool Anthropic) ReadInvokeBody(JsonElement root, string modelId)
    {
        RequireObject(root, "body");
        if (AnthropicMessages.Matches(root))
            return (AnthropicMessages.Read(root, modelId), true);
        if (root.TryGetProperty("messages", out _))
        {
            var request = ConverseRequestReader.Read(root, modelId, streaming: false);
            // Nova's messages-v1 spells maxTokens max_new_tokens.
            if (Optional(root, "inferenceConfig") is { } ic)
                request = request with { InferenceConfig = ConverseRequestReader.Inference(ic, "inferenceConfig", novaNames: true) };
            return (request, false);
        }
        throw BasaltException.Validation("body: InvokeModel accepts an Anthropic Messages body (with \"anthropic_version\": \"bedrock-2023-05-31\", \"max_tokens\" and \"messages\") or a Converse-shaped body (with \"messages\"); see docs/invoke.md.");
    }

    private static ConverseRequest ApplyInvokeHeaders(HttpRequest http, ConverseRequest request)
    {
        var headers = http.Headers;
        var guardrail = headers["X-Amzn-Bedrock-GuardrailIdentifier"].ToString();
        if (guardrail.Length > 0)
        {
            var version = headers["X-Amzn-Bedrock-GuardrailVersion"].ToString();
            if (version.Length == 0)
                throw BasaltException.Validation("X-Amzn-Bedrock-GuardrailVersion: is required when X-Amzn-Bedrock-GuardrailIdentifier is set.");
            var trace = headers["X-Amzn-Bedrock-Trace"].ToString();
            request = request with { GuardrailConfig = new GuardrailConfig(guardrail, version, trace.Length > 0 ? trace.ToLowerInvariant() : null) };
        }
        var latency = headers["X-Amzn-Bedrock-PerformanceConfig-Latency"].ToString();
        if (latency.Length > 0)
        {
            if (latency is not ("standard" or "optimized"))
                throw BasaltException.Validation($"X-Amzn-Bedrock-PerformanceConfig-Latency: '{latency}' is not one of standard, optimized.");
            request = request with { PerformanceConfig = new PerformanceConfig(latency) };
        }
        return request;
    }

    private static async Task CountTokensAsync(HttpContext context, string modelId)
    {
        ConverseRequest request;
        using (var body = await RequestBody.ReadAsync(context))
        using (var doc = Parse(body.Memory))
        {
            var root = doc.RootElement;
            RequireObject(root, "body");
            var input = UnionMember(Required(root, "input", ""), "input", "input");
            switch (input.Name)
            {
                case "converse":
                    RequireObject(input.Value, "input.converse");
                    request = ConverseRequestReader.Read(input.Value, modelId, streaming: false);
                    break;
                case "invokeModel":
                    RequireObject(input.Value, "input.invokeModel");
                    var raw = Base64(Required(input.Value, "body", "input.invokeModel"), "input.invokeModel.body");
                    using (var inner = Parse(raw))
                        request = ReadInvokeBody(inner.RootElement, modelId).Request;
                    break;
                default:
                    throw Error("input", $"'{input.Name}' is not a CountTokens input; use converse or invokeModel.");
            }
        }
        var count = await Gateway(context).Client.CountTokensAsync(request, context.RequestAborted);
        await WriteJsonAsync(context, count, static (w, n) =>
        {
            w.WriteStartObject();
            w.WriteNumber("inputTokens", n);
            w.WriteEndObject();
        });
    }

    /// <summary>Runs a stream: errors before the first event are ordinary HTTP errors; after it, an exception frame.</summary>
    private static async Task RunStreamAsync(HttpContext context, IAsyncEnumerable<ConverseStreamEvent> events, IStreamSink sink, BedrockEventStream stream, bool invoke)
    {
        var enumerator = events.GetAsyncEnumerator(context.RequestAborted);
        try
        {
            var any = await enumerator.MoveNextAsync();
            stream.Start();
            try
            {
                if (any)
                {
                    do
                        await sink.WriteAsync(enumerator.Current);
                    while (await enumerator.MoveNextAsync());
                }
                await sink.CompleteAsync();
            }
            catch (BasaltException e)
            {
                var type = BedrockErrorFormat.StreamExceptionType(e.Kind, invoke);
                BedrockLog.StreamError(Logger(context), context.Request.Path, type, e.Message);
                await stream.SendExceptionAsync(type, e.Message);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; the upstream call was cancelled through RequestAborted.
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                BedrockLog.StreamFailed(Logger(context), context.Request.Path, e);
                await stream.SendExceptionAsync("internalServerException", "The stream failed while in progress; see the server log for details.");
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
        }
    }

    /// <summary>Writes a JSON response with its Content-Length.</summary>
    internal static Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
        => WriteJsonAsync(context, write, static (w, f) => f(w));

    /// <summary>Writes a JSON response with its Content-Length, without a closure.</summary>
    internal static async Task WriteJsonAsync<TState>(HttpContext context, TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
            write(w, state);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>The raw (still percent-encoded) request target after <paramref name="prefix"/>, without the query.</summary>
    private static string RawTail(HttpContext context, string prefix)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw) || raw[0] != '/')
            raw = context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?');
        if (query >= 0)
            raw = raw[..query];
        var at = raw.IndexOf(prefix, StringComparison.OrdinalIgnoreCase);
        return at < 0 ? "" : raw[(at + prefix.Length)..];
    }

    private static string NewMessageId() => "msg_bdrk_" + Guid.NewGuid().ToString("N")[..24];

    private static Gateway Gateway(HttpContext context) => context.RequestServices.GetRequiredService<Gateway>();

    private static ILogger Logger(HttpContext context) => context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Basalt.Server.Bedrock");

    private interface IStreamSink
    {
        Task WriteAsync(ConverseStreamEvent e);
        Task CompleteAsync();
    }

    /// <summary>ConverseStream: one event frame per native event.</summary>
    private sealed class ConverseSink(BedrockEventStream stream) : IStreamSink
    {
        public Task WriteAsync(ConverseStreamEvent e)
        {
            ConverseResponseWriter.WriteEventPayload(stream.BeginPayload(), e);
            return stream.SendEventAsync(ConverseResponseWriter.EventType(e));
        }

        public Task CompleteAsync() => Task.CompletedTask;
    }

    /// <summary>InvokeModelWithResponseStream, Converse-shaped family: each native event as a chunk {"eventType": {...}}.</summary>
    private sealed class InvokeConverseSink(BedrockEventStream stream, long startTimestamp) : IStreamSink
    {
        private long _firstByteMs = -1;

        public Task WriteAsync(ConverseStreamEvent e)
        {
            if (_firstByteMs < 0)
                _firstByteMs = (long)Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
            var w = stream.BeginPayload();
            w.WriteStartObject();
            w.WritePropertyName(ConverseResponseWriter.EventType(e));
            ConverseResponseWriter.WriteEventPayload(w, e);
            if (e is MetadataEvent m)
                InvocationMetrics.Write(w, m.Usage, m.LatencyMs, _firstByteMs);
            w.WriteEndObject();
            return stream.SendChunkAsync();
        }

        public Task CompleteAsync() => Task.CompletedTask;
    }

    /// <summary>InvokeModelWithResponseStream, Anthropic family.</summary>
    private sealed class AnthropicSink(AnthropicMessages.StreamTranslator translator) : IStreamSink
    {
        public Task WriteAsync(ConverseStreamEvent e) => translator.WriteAsync(e);

        public Task CompleteAsync() => translator.CompleteAsync();
    }
}

/// <summary>A request body read whole into a pooled buffer (Kestrel enforces server.maxRequestBodyBytes while reading).</summary>
internal readonly struct RequestBody : IDisposable
{
    private readonly byte[] _array;
    private readonly int _length;

    private RequestBody(byte[] array, int length)
    {
        _array = array;
        _length = length;
    }

    /// <summary>The body bytes.</summary>
    public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, _length);

    /// <summary>Reads the whole body.</summary>
    public static async Task<RequestBody> ReadAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(context.RequestAborted);
            var buffer = result.Buffer;
            if (result.IsCompleted)
            {
                var length = checked((int)buffer.Length);
                var array = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                buffer.CopyTo(array);
                reader.AdvanceTo(buffer.End);
                return new RequestBody(array, length);
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public void Dispose()
    {
        if (_array is not null)
            ArrayPool<byte>.Shared.Return(_array);
    }
}
