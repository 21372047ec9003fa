using System.Security.Claims;
using System.Security.Cryptography;
using Basalt.Core.Aws;
using Basalt.Server.Hosting;
using Basalt.Server.State;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Basalt.Server.Auth;

/// <summary>Authenticates every request except <see cref="PublicPaths"/>: "Authorization: Bearer bsk-..." (OpenAI clients and
/// Bedrock API keys) or AWS Signature V4 with a Basalt AWS key; puts the key in <see cref="Caller.Current"/> and the
/// <see cref="Caller"/> HttpContext feature.</summary>
internal sealed class AuthenticationMiddleware(RequestDelegate next, ApiKeys keys, LastUsedRecorder lastUsed, TimeProvider time, ILogger<AuthenticationMiddleware> logger)
{
    /// <summary>Paths served without a key (load-balancer probes).</summary>
    public static readonly string[] PublicPaths = ["/healthz"];

    private const int BodyBufferThreshold = 64 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        foreach (var p in PublicPaths)
            if (context.Request.Path.Equals(p, StringComparison.OrdinalIgnoreCase))
            {
                await next(context);
                return;
            }

        var (key, failure) = await AuthenticateAsync(context);
        if (failure is not null)
        {
            AuthLog.Refused(logger, context.Items[RequestIdMiddleware.ItemKey] as string, failure.Reason, context.Request.Path);
            await AuthErrors.WriteAsync(context, failure);
            return;
        }

        var caller = new Caller(key!.Id, key.Name, key.AllowedModels);
        AuthLog.Authenticated(logger, context.Items[RequestIdMiddleware.ItemKey] as string, key.Name, key.Id);
        lastUsed.Touch(key.Id, time.GetUtcNow());
        context.Features.Set(caller);
        // An authenticated principal lets the faces tell "no valid key" (401) from "key lacks the permission" (403).
        context.User = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, key.Name), new Claim(ClaimTypes.NameIdentifier, key.Id)],
            authenticationType: key.Kind == ApiKeyKind.Aws ? SigV4.Algorithm : "Bearer"));
        var previous = Caller.Current;
        Caller.Current = caller;
        try
        {
            await next(context);
        }
        finally
        {
            Caller.Current = previous;
        }
    }

    private async Task<(ApiKeyRecord? Key, AuthFailure? Failure)> AuthenticateAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.Length == 0)
            return (null, new AuthFailure(AuthFailureReason.Missing,
                "No API key: send \"Authorization: Bearer bsk-...\" or sign the request with an AWS key (Signature V4). Create a key with `basalt keys create --name NAME`."));
        if (header.Length > ApiKeys.MaxCredentialLength)
            return (null, new AuthFailure(AuthFailureReason.Malformed, $"The Authorization header is longer than {ApiKeys.MaxCredentialLength} characters."));
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return await keys.VerifyBearerAsync(header["Bearer ".Length..].Trim(), context.RequestAborted);
        if (header.StartsWith(SigV4.Algorithm, StringComparison.Ordinal))
            return await VerifySigV4Async(context, header);
        return (null, new AuthFailure(AuthFailureReason.Malformed,
            "The Authorization header must be \"Bearer bsk-...\" or an AWS Signature V4 (AWS4-HMAC-SHA256 Credential=...)."));
    }

    private async Task<(ApiKeyRecord? Key, AuthFailure? Failure)> VerifySigV4Async(HttpContext context, string header)
    {
        var auth = SigV4Verifier.Parse(header);
        if (auth is null)
            return (null, new AuthFailure(AuthFailureReason.Malformed,
                "The AWS4-HMAC-SHA256 Authorization header must carry Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders and a 64-digit Signature."));
        // Over HTTP/2 the AWS SDK for JavaScript signs the :authority pseudo-header instead of host.
        if (!auth.SignedHeaders.Contains("host") && !auth.SignedHeaders.Contains(":authority"))
            return (null, new AuthFailure(AuthFailureReason.Malformed, "The host (or, over HTTP/2, :authority) header must be among the SignedHeaders."));
        var request = context.Request;
        var amzDate = request.Headers[SigV4.DateHeader].ToString();
        if (!SigV4.TryParseAmzDate(amzDate, out var signedAt))
            return (null, new AuthFailure(AuthFailureReason.Malformed, "A signed request needs an x-amz-date header in the form 20250101T120000Z."));
        if (amzDate[..8] != auth.Date)
            return (null, new AuthFailure(AuthFailureReason.BadSignature, $"The credential scope date {auth.Date} differs from the x-amz-date {amzDate}."));

        var (key, secret, failure) = await keys.FindAwsKeyAsync(auth.AccessKeyId, context.RequestAborted);
        if (failure is not null)
            return (null, failure);

        var now = time.GetUtcNow();
        if ((now - signedAt).Duration() > SigV4Verifier.MaxClockSkew)
            return (null, new AuthFailure(AuthFailureReason.StaleTimestamp,
                $"Signature expired: {amzDate} is more than {SigV4Verifier.MaxClockSkew.TotalMinutes:0} minutes from the server's time {SigV4.FormatAmzDate(now)}. Check the client's clock."));

        var bodyHash = await HashBodyAsync(request, context.RequestAborted);
        var claimed = request.Headers[SigV4.ContentSha256Header].ToString();
        string payloadHash;
        if (claimed.Length == 0)
            payloadHash = bodyHash;
        else if (claimed == SigV4.UnsignedPayload)
            payloadHash = claimed;
        else if (!string.Equals(claimed, bodyHash, StringComparison.OrdinalIgnoreCase))
            return (null, new AuthFailure(AuthFailureReason.PayloadMismatch,
                "The x-amz-content-sha256 header does not match the SHA-256 of the request body; the body was altered after signing."));
        else
            payloadHash = claimed;

        var expected = SigV4Verifier.ExpectedSignature(request, auth, amzDate, payloadHash, secret!);
        if (!SigV4.SignaturesEqual(expected, auth.Signature.ToLowerInvariant()))
            return (null, new AuthFailure(AuthFailureReason.BadSignature,
                "The request signature we calculated does not match the signature you provided. Check your AWS secret access key and signing method."));
        return (key, null);
    }

    /// <summary>Buffers the body (so the endpoint can read it again) and returns its hex SHA-256.</summary>
    private static async Task<string> HashBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        request.EnableBuffering(BodyBufferThreshold);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int n;
            while ((n = await request.Body.ReadAsync(buffer, cancellationToken)) > 0)
                hash.AppendData(buffer, 0, n);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
        request.Body.Position = 0;
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
