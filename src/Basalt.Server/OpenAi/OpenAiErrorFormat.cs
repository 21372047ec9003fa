using System.Text.Encodings.Web;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Hosting;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.OpenAi;

/// <summary>OpenAI's error shape for every path under /v1: {"error":{"message","type","param","code"}}.</summary>
internal sealed class OpenAiErrorFormat : IErrorFormat
{
    /// <summary>The JSON writer settings of the face: no HTML escaping, since this is an API body and not a page.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public bool Matches(PathString path) => path.StartsWithSegments("/v1");

    public Task WriteAsync(HttpContext context, ErrorKind kind, string message)
    {
        var error = Describe(kind, context);
        return WriteAsync(context, error.Status, message, error.Type, null, error.Code);
    }

    /// <summary>The status, error.type and error.code OpenAI uses for a kind of failure.</summary>
    public static (int Status, string Type, string? Code) Describe(ErrorKind kind, HttpContext context) => kind switch
    {
        ErrorKind.Validation => (400, "invalid_request_error", null),
        // A caller that got through authentication but is refused lacks the permission; anyone else lacks a valid key.
        ErrorKind.AccessDenied when context.User.Identity?.IsAuthenticated == true => (403, "permission_error", "permission_denied"),
        ErrorKind.AccessDenied => (401, "authentication_error", "invalid_api_key"),
        ErrorKind.ResourceNotFound => (404, "invalid_request_error", "model_not_found"),
        ErrorKind.Conflict => (409, "invalid_request_error", "conflict"),
        ErrorKind.Throttling or ErrorKind.ModelNotReady => (429, "rate_limit_error", "rate_limit_exceeded"),
        ErrorKind.ServiceQuotaExceeded => (429, "insufficient_quota", "insufficient_quota"),
        ErrorKind.ModelTimeout => (504, "server_error", "timeout"),
        ErrorKind.ModelError => (502, "server_error", "upstream_error"),
        ErrorKind.ServiceUnavailable => (503, "server_error", "service_unavailable"),
        _ => (500, "server_error", null),
    };

    /// <summary>Writes a whole error response.</summary>
    public static async Task WriteAsync(HttpContext context, int status, string message, string type, string? param, string? code)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await using (var json = new Utf8JsonWriter(context.Response.BodyWriter, WriterOptions))
            WriteBody(json, message, type, param, code);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    /// <summary>Writes {"error":{...}}, also used as the payload of an SSE error event.</summary>
    public static void WriteBody(Utf8JsonWriter json, string message, string type, string? param, string? code)
    {
        json.WriteStartObject();
        json.WriteStartObject("error"u8);
        json.WriteString("message"u8, message);
        json.WriteString("type"u8, type);
        if (param is null)
            json.WriteNull("param"u8);
        else
            json.WriteString("param"u8, param);
        if (code is null)
            json.WriteNull("code"u8);
        else
            json.WriteString("code"u8, code);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
