using System.IO.Pipelines;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Basalt.Server.OpenAi;

/// <summary>The OpenAI-compatible face: /v1/chat/completions and /v1/models, translated to and from the native contract.</summary>
internal static class OpenAiEndpoints
{
    /// <summary>Registers the face's error format; call before the Bedrock face registers its fallback format.</summary>
    public static IServiceCollection AddOpenAiFace(this IServiceCollection services)
        => services.AddSingleton<IErrorFormat, OpenAiErrorFormat>();

    /// <summary>Maps the face's endpoints.</summary>
    public static IEndpointRouteBuilder MapOpenAi(this IEndpointRouteBuilder app)
    {
        var logger = app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Basalt.Server.OpenAi");
        // The catalog has no creation dates; every model reports when this server started serving it.
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // The gateway is a root singleton: resolving it there, once, spares every request a DI scope.
        var services = app.ServiceProvider;
        Gateway? cached = null;
        Gateway Gateway() => cached ??= services.GetRequiredService<Gateway>();
        app.MapPost("/v1/chat/completions", context => ChatCompletionsAsync(context, Gateway(), logger));
        app.MapGet("/v1/models", context => ListModelsAsync(context, Gateway().Catalog, created));
        app.MapGet("/v1/models/{**id}", context => GetModelAsync(context, Gateway().Catalog, created));
        app.Map("/v1/{**path}", context => OpenAiErrorFormat.WriteAsync(context, StatusCodes.Status404NotFound,
            $"Invalid URL ({context.Request.Method} {context.Request.Path}); Basalt's OpenAI API serves POST /v1/chat/completions, GET /v1/models and GET /v1/models/{{model}}.",
            "invalid_request_error", null, null));
        return app;
    }

    private static async Task ChatCompletionsAsync(HttpContext context, Gateway gateway, ILogger logger)
    {
        ChatCompletionRequest request;
        try
        {
            request = await ReadRequestAsync(context.Request.BodyReader, context.RequestAborted);
            if (context.Request.Headers.ContainsKey(GuardrailHeaders.Guardrail))
                request = request with { Converse = GuardrailHeaders.Apply(context.Request, request.Converse) };
        }
        catch (OpenAiRequestException e)
        {
            await OpenAiErrorFormat.WriteAsync(context, StatusCodes.Status400BadRequest, e.Message, "invalid_request_error", e.Param, null);
            return;
        }

        var id = ChatResponseWriter.NewId();
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (request.Stream)
        {
            await StreamAsync(context, gateway, request, id, created, logger);
            return;
        }

        var response = await gateway.Client.ConverseAsync(request.Converse, context.RequestAborted);
        if (response.StopReason == StopReason.GuardrailIntervened && request.Converse.GuardrailConfig is not null)
            context.Response.Headers[GuardrailHeaders.Action] = "GUARDRAIL_INTERVENED";
        await JsonResponse.WriteAsync(context, StatusCodes.Status200OK, (id, created, request.Model, response),
            static (json, s) => ChatResponseWriter.WriteCompletion(json, s.id, s.created, s.Model, s.response));
    }

    /// <summary>Buffers the whole body in the request pipe (Kestrel enforces the size limit) and parses it in place.</summary>
    private static async Task<ChatCompletionRequest> ReadRequestAsync(PipeReader body, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await body.ReadAsync(cancellationToken);
            if (result.IsCompleted)
            {
                try
                {
                    return ChatRequestParser.Parse(result.Buffer);
                }
                finally
                {
                    body.AdvanceTo(result.Buffer.End);
                }
            }
            body.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static async Task StreamAsync(HttpContext context, Gateway gateway, ChatCompletionRequest request, string id, long created, ILogger logger)
    {
        var cancellationToken = context.RequestAborted;
        await using var events = gateway.Client.ConverseStreamAsync(request.Converse, cancellationToken).GetAsyncEnumerator(cancellationToken);
        // The first event is awaited before any byte is sent, so an unknown model or a refused request is still
        // an ordinary HTTP error with its status code.
        var more = await events.MoveNextAsync();

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var pipe = response.BodyWriter;
        using var chunks = new ChatChunkStream(pipe, id, created, request.Model, request.IncludeUsage);
        try
        {
            while (more)
            {
                if (chunks.Write(events.Current))
                {
                    var flushed = await pipe.FlushAsync(cancellationToken);
                    if (flushed.IsCompleted || flushed.IsCanceled)
                        return;
                }
                more = await events.MoveNextAsync();
            }
            chunks.WriteDone();
            await pipe.FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away; disposing the enumerator ends the upstream call.
        }
        catch (BasaltException e)
        {
            var (_, type, code) = OpenAiErrorFormat.Describe(e.Kind, context);
            OpenAiLog.StreamFailed(logger, e.Kind.ToString(), e.Message);
            chunks.WriteError(e.Message, type, code);
            await pipe.FlushAsync(cancellationToken);
        }
        catch (Exception e)
        {
            OpenAiLog.StreamCrashed(logger, e);
            chunks.WriteError("The server failed while streaming the response; see the server log for details.", "server_error", null);
            await pipe.FlushAsync(cancellationToken);
        }
    }

    private static Task ListModelsAsync(HttpContext context, ModelCatalog catalog, long created)
    {
        return JsonResponse.WriteAsync(context, StatusCodes.Status200OK, (catalog, created), static (json, s) =>
        {
            json.WriteStartObject();
            json.WriteString("object"u8, "list"u8);
            json.WriteStartArray("data"u8);
            foreach (var model in s.catalog.Models)
                WriteModel(json, model, s.created);
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static Task GetModelAsync(HttpContext context, ModelCatalog catalog, long created)
    {
        // Kestrel leaves %2F encoded in paths; SDKs escape the '/' of ids such as meta/llama-3.
        var raw = context.Request.RouteValues["id"] as string ?? "";
        var id = Uri.UnescapeDataString(raw);
        if (!catalog.TryResolve(id, out var model))
        {
            return OpenAiErrorFormat.WriteAsync(context, StatusCodes.Status404NotFound,
                $"The model '{id}' does not exist. List the available models with GET /v1/models.", "invalid_request_error", null, "model_not_found");
        }
        return JsonResponse.WriteAsync(context, StatusCodes.Status200OK, (model, created), static (json, s) => WriteModel(json, s.model, s.created));
    }

    private static void WriteModel(Utf8JsonWriter json, ModelEntry model, long created)
    {
        json.WriteStartObject();
        json.WriteString("id"u8, model.Id);
        json.WriteString("object"u8, "model"u8);
        json.WriteNumber("created"u8, created);
        json.WriteString("owned_by"u8, model.ProviderName ?? model.Provider);
        json.WriteEndObject();
    }
}

/// <summary>Source-generated log messages of the OpenAI face; event ids 3100-3199.</summary>
internal static partial class OpenAiLog
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Warning, Message = "OpenAI stream ended by an upstream error after it started: {Kind}: {Message}")]
    public static partial void StreamFailed(ILogger logger, string kind, string message);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "OpenAI stream failed after it started")]
    public static partial void StreamCrashed(ILogger logger, Exception exception);
}
