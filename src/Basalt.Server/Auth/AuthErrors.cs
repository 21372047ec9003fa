using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.Auth;

/// <summary>Writes a refused credential in the format of the request's API: OpenAI paths (/v1) get 401 authentication_error,
/// which the OpenAI SDKs raise as AuthenticationError; every other path is Bedrock's, which answers 403 with the AWS error
/// code the AWS SDKs expect for that failure (UnrecognizedClientException, InvalidSignatureException, ...).</summary>
internal static class AuthErrors
{
    // Messages quote commands and headers; relaxed escaping keeps them readable (the body is JSON, never HTML).
    private static readonly AuthJsonContext Json = new(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>True for paths of the OpenAI-compatible face.</summary>
    public static bool IsOpenAiPath(PathString path) => path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase);

    /// <summary>The AWS error code of a failure.</summary>
    public static string AwsErrorCode(AuthFailureReason reason) => reason switch
    {
        AuthFailureReason.Missing => "MissingAuthenticationTokenException",
        AuthFailureReason.Malformed => "IncompleteSignatureException",
        AuthFailureReason.UnknownKey or AuthFailureReason.Revoked => "UnrecognizedClientException",
        AuthFailureReason.Expired => "ExpiredTokenException",
        _ => "InvalidSignatureException",
    };

    public static async Task WriteAsync(HttpContext context, AuthFailure failure)
    {
        var response = context.Response;
        if (response.HasStarted)
            return;
        response.ContentType = "application/json";
        if (IsOpenAiPath(context.Request.Path))
        {
            response.StatusCode = StatusCodes.Status401Unauthorized;
            response.Headers.WWWAuthenticate = "Bearer realm=\"basalt\"";
            var code = failure.Reason == AuthFailureReason.Missing ? "missing_api_key" : "invalid_api_key";
            await JsonSerializer.SerializeAsync(response.Body, new OpenAiError(new OpenAiErrorBody(failure.Message, "authentication_error", null, code)),
                Json.OpenAiError, context.RequestAborted);
        }
        else
        {
            response.StatusCode = StatusCodes.Status403Forbidden;
            response.Headers["x-amzn-ErrorType"] = AwsErrorCode(failure.Reason);
            await JsonSerializer.SerializeAsync(response.Body, new AwsError(failure.Message), Json.AwsError, context.RequestAborted);
        }
    }
}

internal sealed record OpenAiError([property: System.Text.Json.Serialization.JsonPropertyName("error")] OpenAiErrorBody Error);

internal sealed record OpenAiErrorBody(
    [property: System.Text.Json.Serialization.JsonPropertyName("message")] string Message,
    [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
    [property: System.Text.Json.Serialization.JsonPropertyName("param")] string? Param,
    [property: System.Text.Json.Serialization.JsonPropertyName("code")] string Code);

internal sealed record AwsError([property: System.Text.Json.Serialization.JsonPropertyName("message")] string Message);

[System.Text.Json.Serialization.JsonSerializable(typeof(OpenAiError))]
[System.Text.Json.Serialization.JsonSerializable(typeof(AwsError))]
internal sealed partial class AuthJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
