using Basalt.Core.Aws;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Basalt.Server.Auth;

/// <summary>Server side of AWS Signature V4: turns a received request into the <see cref="SigV4Request"/> the client signed
/// (raw path and query as sent, the signed headers) and recomputes its signature with <see cref="SigV4"/>.</summary>
internal static class SigV4Verifier
{
    /// <summary>Requests signed further than this from the server's clock are refused (AWS's own window).</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(15);

    /// <summary>Parses the Authorization header; null when it is not a well-formed SigV4 header (signed header names must be
    /// lower case, the scope date eight digits).</summary>
    public static SigV4Authorization? Parse(string header)
    {
        if (!SigV4.TryParseAuthorization(header, out var auth))
            return null;
        if (auth.AccessKeyId.Length == 0 || auth.Date.Length != 8 || !auth.Date.All(char.IsAsciiDigit))
            return null;
        foreach (var h in auth.SignedHeaders)
            if (h.Length == 0 || h != h.ToLowerInvariant())
                return null;
        return auth;
    }

    /// <summary>The request as the client signed it: method, raw path and query, the signed headers' values, the payload hash.</summary>
    public static SigV4Request WireRequest(HttpRequest request, IReadOnlyList<string> signedHeaders, string payloadHash)
    {
        var rawTarget = request.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(rawTarget) || rawTarget[0] != '/')
            rawTarget = request.PathBase.Add(request.Path).ToUriComponent() + request.QueryString.ToUriComponent();
        var q = rawTarget.IndexOf('?');
        var headers = new List<KeyValuePair<string, string>>(signedHeaders.Count);
        foreach (var name in signedHeaders)
            foreach (var value in HeaderValue(request, name))
                headers.Add(new(name, value ?? ""));
        return new SigV4Request(request.Method, q < 0 ? rawTarget : rawTarget[..q], q < 0 ? "" : rawTarget[(q + 1)..], headers, payloadHash);
    }

    /// <summary>The canonical request of a received request.</summary>
    public static string CanonicalRequest(HttpRequest request, IReadOnlyList<string> signedHeaders, string payloadHash)
        => SigV4.CanonicalRequest(WireRequest(request, signedHeaders, payloadHash), signedHeaders);

    /// <summary>A signed header's value; HTTP/2 clients (the AWS SDK for JavaScript) sign the :authority pseudo-header,
    /// which Kestrel exposes as the Host header.</summary>
    private static Microsoft.Extensions.Primitives.StringValues HeaderValue(HttpRequest request, string name)
        => name == ":authority" ? request.Headers.Host : request.Headers[name];

    /// <summary>The signature (lower-case hex) the request should carry.</summary>
    public static string ExpectedSignature(HttpRequest request, SigV4Authorization auth, string amzDate, string payloadHash, string secretAccessKey)
        => SigV4.ComputeSignature(WireRequest(request, auth.SignedHeaders, payloadHash), auth, amzDate, secretAccessKey);
}
