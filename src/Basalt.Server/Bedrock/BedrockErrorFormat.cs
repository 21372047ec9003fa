using System.Buffers;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Hosting;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.Bedrock;

/// <summary>Bedrock's error format: the status of the error type, an x-amzn-ErrorType header
/// ("NameException:http://internal.amazon.com/coral/com.amazon.bedrock/", which the AWS SDKs cut at ':'),
/// and a {"message"} body. It is the fallback for every path outside /v1.</summary>
internal sealed class BedrockErrorFormat : IErrorFormat
{
    /// <summary>The namespace suffix Bedrock appends to the error type header.</summary>
    public const string ErrorTypeNamespace = ":http://internal.amazon.com/coral/com.amazon.bedrock/";

    /// <summary>Every path that is not an OpenAI (/v1) path belongs to Bedrock.</summary>
    public bool Matches(PathString path) => !path.StartsWithSegments("/v1");

    /// <inheritdoc />
    public async Task WriteAsync(HttpContext context, ErrorKind kind, string message)
    {
        var response = context.Response;
        response.StatusCode = Status(kind);
        response.Headers["x-amzn-ErrorType"] = TypeName(kind) + ErrorTypeNamespace;
        response.ContentType = "application/json";
        var buffer = new ArrayBufferWriter<byte>(128 + message.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("message", message);
            writer.WriteEndObject();
        }
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>Bedrock's exception name of an error kind.</summary>
    public static string TypeName(ErrorKind kind) => kind switch
    {
        ErrorKind.Validation => "ValidationException",
        ErrorKind.AccessDenied => "AccessDeniedException",
        ErrorKind.ResourceNotFound => "ResourceNotFoundException",
        ErrorKind.ModelTimeout => "ModelTimeoutException",
        ErrorKind.ModelError => "ModelErrorException",
        ErrorKind.Throttling => "ThrottlingException",
        ErrorKind.ModelNotReady => "ModelNotReadyException",
        ErrorKind.ServiceUnavailable => "ServiceUnavailableException",
        ErrorKind.ServiceQuotaExceeded => "ServiceQuotaExceededException",
        ErrorKind.Conflict => "ConflictException",
        _ => "InternalServerException",
    };

    /// <summary>The HTTP status Bedrock uses for an error kind.</summary>
    public static int Status(ErrorKind kind) => kind switch
    {
        ErrorKind.Validation => 400,
        ErrorKind.AccessDenied => 403,
        ErrorKind.ResourceNotFound => 404,
        ErrorKind.ModelTimeout => 408,
        ErrorKind.ModelError => 424,
        ErrorKind.Throttling => 429,
        ErrorKind.ModelNotReady => 429,
        ErrorKind.ServiceUnavailable => 503,
        ErrorKind.ServiceQuotaExceeded => 400,
        ErrorKind.Conflict => 409,
        _ => 500,
    };

    /// <summary>The exception event of a ConverseStream / InvokeModelWithResponseStream stream for an error
    /// that happens after the stream began (the streams' unions allow only these names).</summary>
    public static string StreamExceptionType(ErrorKind kind, bool invokeStream) => kind switch
    {
        ErrorKind.Validation => "validationException",
        ErrorKind.Throttling or ErrorKind.ModelNotReady or ErrorKind.ServiceQuotaExceeded => "throttlingException",
        ErrorKind.ServiceUnavailable => "serviceUnavailableException",
        ErrorKind.InternalServer => "internalServerException",
        ErrorKind.ModelTimeout when invokeStream => "modelTimeoutException",
        _ => "modelStreamErrorException",
    };
}
