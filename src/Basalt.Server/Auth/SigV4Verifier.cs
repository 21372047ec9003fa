using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Basalt.Server.Auth;

/// <summary>The parts of an "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." header.</summary>
internal sealed record SigV4Authorization(string AccessKeyId, string Date, string Region, string Service, string[] SignedHeaders, string Signature)
{
    /// <summary>The credential scope: date/region/service/aws4_request.</summary>
    public string Scope => $"{Date}/{Region}/{Service}/aws4_request";
}

/// <summary>Server-side AWS Signature Version 4: recomputes the signature of a received request from its raw path, query,
/// signed headers and payload hash (the canonical request of the non-S3 services, whose path segments the SDKs encode twice).</summary>
internal static class SigV4Verifier
{
    /// <summary>The only algorithm AWS SDKs use for header signing.</summary>
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>Requests signed further than this from the server's clock are refused (AWS's own window).</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(15);

    /// <summary>The x-amz-date format.</summary>
    public const string AmzDateFormat = "yyyyMMdd'T'HHmmss'Z'";

    /// <summary>x-amz-content-sha256 value of requests whose body is not signed.</summary>
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";

    /// <summary>Parses the Authorization header; null when it is not a well-formed SigV4 header.</summary>
    public static SigV4Authorization? Parse(string header)
    {
        if (!header.StartsWith(Algorithm + " ", StringComparison.Ordinal))
            return null;
        string? credential = null, signedHeaders = null, signature = null;
        foreach (var part in header[(Algorithm.Length + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
                return null;
            var value = part[(eq + 1)..];
            switch (part[..eq])
            {
                case "Credential": credential = value; break;
                case "SignedHeaders": signedHeaders = value; break;
                case "Signature": signature = value; break;
            }
        }
        if (credential is null || signedHeaders is null || signature is null || signature.Length != 64)
            return null;
        var c = credential.Split('/');
        if (c.Length != 5 || c[4] != "aws4_request" || c[0].Length == 0 || c[1].Length != 8)
            return null;
        var headers = signedHeaders.Split(';');
        if (headers.Any(h => h.Length == 0 || h != h.ToLowerInvariant()))
            return null;
        return new SigV4Authorization(c[0], c[1], c[2], c[3], headers, signature);
    }

    /// <summary>Parses x-amz-date.</summary>
    public static bool TryParseAmzDate(string? value, out DateTimeOffset time)
        => DateTimeOffset.TryParseExact(value, AmzDateFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);

    /// <summary>The canonical request of a received request.</summary>
    public static string CanonicalRequest(HttpRequest request, IReadOnlyList<string> signedHeaders, string payloadHash)
    {
        var rawTarget = request.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(rawTarget) || rawTarget[0] != '/')
            rawTarget = request.PathBase.Add(request.Path).ToUriComponent() + request.QueryString.ToUriComponent();
        var q = rawTarget.IndexOf('?');
        var rawPath = q < 0 ? rawTarget : rawTarget[..q];
        var rawQuery = q < 0 ? "" : rawTarget[(q + 1)..];

        var sb = new StringBuilder(512);
        sb.Append(request.Method).Append('\n');
        sb.Append(Encode(rawPath.Length == 0 ? "/" : rawPath, keepSlash: true)).Append('\n');
        sb.Append(CanonicalQuery(rawQuery)).Append('\n');
        foreach (var name in signedHeaders)
            sb.Append(name).Append(':').Append(CanonicalHeaderValue(HeaderValue(request, name))).Append('\n');
        sb.Append('\n');
        sb.Append(string.Join(';', signedHeaders)).Append('\n');
        sb.Append(payloadHash);
        return sb.ToString();
    }

    /// <summary>A signed header's value; HTTP/2 clients (the AWS SDK for JavaScript) sign the :authority pseudo-header,
    /// which Kestrel exposes as the Host header.</summary>
    private static Microsoft.Extensions.Primitives.StringValues HeaderValue(HttpRequest request, string name)
        => name == ":authority" ? request.Headers.Host : request.Headers[name];

    /// <summary>The signature (lower-case hex) of a canonical request.</summary>
    public static string Sign(string canonicalRequest, string amzDate, SigV4Authorization auth, string secretAccessKey)
    {
        var stringToSign = $"{Algorithm}\n{amzDate}\n{auth.Scope}\n{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var key = Hmac(Encoding.UTF8.GetBytes("AWS4" + secretAccessKey), auth.Date);
        key = Hmac(key, auth.Region);
        key = Hmac(key, auth.Service);
        key = Hmac(key, "aws4_request");
        return Convert.ToHexStringLower(Hmac(key, stringToSign));
    }

    /// <summary>Constant-time comparison of two hex signatures.</summary>
    public static bool SignaturesEqual(string expected, string actual)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(actual.ToLowerInvariant()));

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    private static string CanonicalQuery(string rawQuery)
    {
        if (rawQuery.Length == 0)
            return "";
        var pairs = new List<(string Key, string Value)>();
        foreach (var p in rawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = p.IndexOf('=');
            var k = eq < 0 ? p : p[..eq];
            var v = eq < 0 ? "" : p[(eq + 1)..];
            pairs.Add((Encode(Uri.UnescapeDataString(k), keepSlash: false), Encode(Uri.UnescapeDataString(v), keepSlash: false)));
        }
        pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key) is var c && c != 0 ? c : string.CompareOrdinal(a.Value, b.Value));
        var sb = new StringBuilder();
        foreach (var (k, v) in pairs)
        {
            if (sb.Length > 0)
                sb.Append('&');
            sb.Append(k).Append('=').Append(v);
        }
        return sb.ToString();
    }

    private static string CanonicalHeaderValue(Microsoft.Extensions.Primitives.StringValues values)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
                sb.Append(',');
            // Trim and collapse runs of spaces, as the SDKs do before signing.
            var v = values[i]!.Trim();
            var space = false;
            foreach (var ch in v)
            {
                if (ch == ' ')
                {
                    if (!space)
                        sb.Append(' ');
                    space = true;
                }
                else
                {
                    sb.Append(ch);
                    space = false;
                }
            }
        }
        return sb.ToString();
    }

    /// <summary>RFC 3986 encoding of everything but unreserved characters (and '/' in paths); '%' itself is encoded,
    /// which gives the second encoding the SDKs apply to already-encoded path segments.</summary>
    private static string Encode(string value, bool keepSlash)
    {
        var sb = new StringBuilder(value.Length + 16);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var ch = (char)b;
            if (ch is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_' or '.' or '~' || (keepSlash && ch == '/'))
                sb.Append(ch);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
