using Basalt.Core.Conversation;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.Hosting;

/// <summary>How one API face writes an error (Bedrock: x-amzn-ErrorType and {"message"}; OpenAI: {"error":{...}}).</summary>
public interface IErrorFormat
{
    /// <summary>True when requests to this path belong to this face.</summary>
    bool Matches(PathString path);

    /// <summary>Writes the error response (status, headers, body).</summary>
    Task WriteAsync(HttpContext context, ErrorKind kind, string message);
}

/// <summary>Picks the error format of the face a request belongs to; the last registered format is the fallback.</summary>
public sealed class ErrorFormats(IEnumerable<IErrorFormat> formats)
{
    private readonly IErrorFormat[] _formats = formats.ToArray();

    /// <summary>Writes an error in the format of the request's face, unless the response has started.</summary>
    public Task WriteAsync(HttpContext context, ErrorKind kind, string message)
    {
        if (context.Response.HasStarted)
            return Task.CompletedTask;
        foreach (var f in _formats)
            if (f.Matches(context.Request.Path))
                return f.WriteAsync(context, kind, message);
        if (_formats.Length > 0)
            return _formats[^1].WriteAsync(context, kind, message);
        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        return context.Response.WriteAsync(message);
    }
}
