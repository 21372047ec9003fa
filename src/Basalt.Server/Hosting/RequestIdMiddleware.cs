using Microsoft.AspNetCore.Http;

namespace Basalt.Server.Hosting;

/// <summary>Gives every request an id (x-amzn-RequestId and x-request-id on the response), kept in HttpContext.Items.</summary>
internal sealed class RequestIdMiddleware(RequestDelegate next)
{
    /// <summary>Key of the request id in HttpContext.Items.</summary>
    public const string ItemKey = "basalt.requestId";

    public Task InvokeAsync(HttpContext context)
    {
        var id = Guid.NewGuid().ToString();
        context.Items[ItemKey] = id;
        context.Response.Headers["x-amzn-RequestId"] = id;
        context.Response.Headers["x-request-id"] = id;
        return next(context);
    }
}

/// <summary>Turns exceptions escaping an endpoint into the face's error format; the server never dies of one request.</summary>
internal sealed class ErrorMiddleware(RequestDelegate next, ErrorFormats formats, Microsoft.Extensions.Logging.ILogger<ErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Basalt.Core.Conversation.BasaltException e)
        {
            await formats.WriteAsync(context, e.Kind, e.Message);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await formats.WriteAsync(context, Basalt.Core.Conversation.ErrorKind.Validation, "The request body is larger than the server's limit (server.maxRequestBodyBytes).");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to write.
        }
        catch (Exception e)
        {
            ServerLog.UnhandledException(logger, context.Request.Path, e);
            await formats.WriteAsync(context, Basalt.Core.Conversation.ErrorKind.InternalServer, "The server failed to process the request; see the server log for details.");
        }
    }
}
