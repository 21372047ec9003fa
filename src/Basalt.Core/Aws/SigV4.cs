using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Basalt.Core.Aws;

/// <summary>AWS credentials used to sign requests.</summary>
public sealed record AwsCredentials(string AccessKeyId, string SecretAccessKey, string? SessionToken = null);

/// <summary>The parts of an HTTP request that SigV4 signs, as they appear on the wire:
/// the path still percent-encoded as sent, the query without its leading '?', every header (repeated names allowed).</summary>
public sealed record SigV4Request(
    string Method,
    string Path,
    string Query,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    string PayloadHash);

/// <summary>A parsed SigV4 Authorization header.</summary>
public sealed record SigV4Authorization(
    string AccessKeyId,
    string Date,
    string Region,
    string Service,
    IReadOnlyList<string> SignedHeaders,
    string Signature)
{
    /// <summary>The credential scope: date/region/service/aws4_request.</summary>
    public string Scope => SigV4.CredentialScope(Date, Region, Service);
}

/// <summary>AWS Signature Version 4 (AWS4-HMAC-SHA256): every step exposed so a server can recompute the
/// signature of an incoming request, and <see cref="SignAsync"/> to sign an outgoing one.</summary>
public static class SigV4
{
    /// <summary>The algorithm name in the Authorization header and string to sign.</summary>
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>Hex SHA-256 of an empty payload.</summary>
    public const string EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>The payload hash value that says the body is not signed (S3).</summary>
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";

    /// <summary>Header carrying the request time (yyyyMMddTHHmmssZ).</summary>
    public const string DateHeader = "x-amz-date";

    /// <summary>Header carrying the hex SHA-256 of the payload.</summary>
    public const string ContentSha256Header = "x-amz-content-sha256";

    /// <summary>Header carrying a temporary credential's session token.</summary>
    public const string SecurityTokenHeader = "x-amz-security-token";

    private const string TimeFormat = "yyyyMMdd'T'HHmmss'Z'";
    private const string Terminator = "aws4_request";

    // Headers a proxy or the HTTP stack may add or rewrite after signing; the AWS SDKs leave them unsigned too.
    private static readonly HashSet<string> UnsignedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "authorization", "user-agent", "expect", "x-amzn-trace-id", "connection", "transfer-encoding",
        "content-length", "accept-encoding", "keep-alive", "proxy-connection", "te", "upgrade",
    };

    /// <summary>Formats a time as x-amz-date (yyyyMMddTHHmmssZ, UTC).</summary>
    public static string FormatAmzDate(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>Parses an x-amz-date value, or returns false.</summary>
    public static bool TryParseAmzDate(string? value, out DateTimeOffset time)
        => DateTimeOffset.TryParseExact(value, TimeFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);

    /// <summary>Hex (lowercase) SHA-256 of bytes.</summary>
    public static string HashHex(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Hex (lowercase) SHA-256 of a string's UTF-8 bytes.</summary>
    public static string HashHex(string text) => HashHex(Encoding.UTF8.GetBytes(text));

    /// <summary>URI-encodes a string the SigV4 way: every byte except A-Z a-z 0-9 - _ . ~ becomes %XX (uppercase hex),
    /// and '/' too unless <paramref name="keepSlash"/>.</summary>
    public static string UriEncode(string value, bool keepSlash = false)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var sb = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            var c = (char)b;
            if (c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_' or '.' or '~' || (keepSlash && c == '/'))
                sb.Append(c);
            else
                sb.Append('%').Append(((int)b).ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>The canonical URI of a path as it appears on the wire. For every service but S3 the path is normalized
    /// (empty, "." and ".." segments removed) and each segment is encoded once more, so a path already percent-encoded
    /// by the client ends up double-encoded, as AWS requires. For S3 the path is decoded and encoded exactly once, unnormalized.</summary>
    public static string CanonicalUri(string path, bool s3 = false)
    {
        if (string.IsNullOrEmpty(path))
            return "/";
        if (s3)
            return UriEncode(Uri.UnescapeDataString(path), keepSlash: true);

        var segments = new List<string>();
        var parts = path.Split('/');
        var trailingSlash = false;
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var last = i == parts.Length - 1;
            switch (part)
            {
                case "":
                    if (last) trailingSlash = true;
                    break;
                case ".":
                    if (last) trailingSlash = true;
                    break;
                case "..":
                    if (segments.Count > 0) segments.RemoveAt(segments.Count - 1);
                    if (last) trailingSlash = true;
                    break;
                default:
                    segments.Add(UriEncode(part));
                    break;
            }
        }
        if (segments.Count == 0)
            return "/";
        var joined = "/" + string.Join('/', segments);
        return trailingSlash ? joined + "/" : joined;
    }

    /// <summary>The canonical query string: parameters decoded, re-encoded, sorted by name then value, joined with '&amp;'.</summary>
    public static string CanonicalQueryString(string? query)
    {
        if (string.IsNullOrEmpty(query))
            return "";
        if (query[0] == '?')
            query = query[1..];
        var pairs = new List<(string Key, string Value)>();
        foreach (var item in query.Split('&'))
        {
            if (item.Length == 0)
                continue;
            var eq = item.IndexOf('=');
            var key = eq < 0 ? item : item[..eq];
            var value = eq < 0 ? "" : item[(eq + 1)..];
            pairs.Add((UriEncode(Uri.UnescapeDataString(key)), UriEncode(Uri.UnescapeDataString(value))));
        }
        pairs.Sort(static (a, b) =>
        {
            var c = string.CompareOrdinal(a.Key, b.Key);
            return c != 0 ? c : string.CompareOrdinal(a.Value, b.Value);
        });
        var sb = new StringBuilder();
        foreach (var (key, value) in pairs)
        {
            if (sb.Length > 0) sb.Append('&');
            sb.Append(key).Append('=').Append(value);
        }
        return sb.ToString();
    }

    /// <summary>The names of the headers to sign: every header given except the ones proxies rewrite, lowercased and sorted.</summary>
    public static IReadOnlyList<string> DefaultSignedHeaders(IEnumerable<KeyValuePair<string, string>> headers)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in headers)
        {
            if (!UnsignedHeaders.Contains(name))
                names.Add(name.ToLowerInvariant());
        }
        return [.. names];
    }

    /// <summary>The canonical headers block: one "name:value" line per signed header (values of repeated headers joined
    /// with ',', trimmed, runs of spaces collapsed), each line ending in '\n'.</summary>
    public static string CanonicalHeaders(IEnumerable<KeyValuePair<string, string>> headers, IReadOnlyList<string> signedHeaders)
    {
        var values = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            if (!values.TryGetValue(name, out var list))
                values[name] = list = [];
            list.Add(CollapseSpaces(value));
        }
        var sb = new StringBuilder();
        foreach (var name in signedHeaders)
        {
            sb.Append(name.ToLowerInvariant()).Append(':');
            if (values.TryGetValue(name, out var list))
                sb.AppendJoin(',', list);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The canonical request of the SigV4 specification.</summary>
    public static string CanonicalRequest(SigV4Request request, IReadOnlyList<string> signedHeaders, bool s3 = false)
    {
        ArgumentNullException.ThrowIfNull(request);
        return string.Join('\n',
            request.Method.ToUpperInvariant(),
            CanonicalUri(request.Path, s3),
            CanonicalQueryString(request.Query),
            CanonicalHeaders(request.Headers, signedHeaders),
            string.Join(';', signedHeaders),
            request.PayloadHash);
    }

    /// <summary>The credential scope: date/region/service/aws4_request.</summary>
    public static string CredentialScope(string date, string region, string service) => $"{date}/{region}/{service}/{Terminator}";

    /// <summary>The string to sign: algorithm, x-amz-date, scope and the hash of the canonical request.</summary>
    public static string StringToSign(string amzDate, string scope, string canonicalRequest)
        => $"{Algorithm}\n{amzDate}\n{scope}\n{HashHex(canonicalRequest)}";

    /// <summary>The signing key: HMAC chain of the secret over date, region, service and "aws4_request".</summary>
    public static byte[] SigningKey(string secretAccessKey, string date, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secretAccessKey), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(Terminator));
    }

    /// <summary>The hex signature of a string to sign.</summary>
    public static string Signature(byte[] signingKey, string stringToSign)
        => Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));

    /// <summary>The Authorization header value.</summary>
    public static string AuthorizationHeader(string accessKeyId, string scope, IReadOnlyList<string> signedHeaders, string signature)
        => $"{Algorithm} Credential={accessKeyId}/{scope}, SignedHeaders={string.Join(';', signedHeaders)}, Signature={signature}";

    /// <summary>Parses an Authorization header of the form "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".</summary>
    public static bool TryParseAuthorization(string? header, out SigV4Authorization authorization)
    {
        authorization = null!;
        if (header is null || !header.StartsWith(Algorithm + " ", StringComparison.Ordinal))
            return false;
        string? credential = null, signed = null, signature = null;
        foreach (var raw in header[(Algorithm.Length + 1)..].Split(','))
        {
            var part = raw.Trim();
            var eq = part.IndexOf('=');
            if (eq < 0)
                return false;
            var value = part[(eq + 1)..];
            switch (part[..eq])
            {
                case "Credential": credential = value; break;
                case "SignedHeaders": signed = value; break;
                case "Signature": signature = value; break;
            }
        }
        if (credential is null || signed is null || signature is null)
            return false;
        // The access key id itself never contains '/', so the scope is the last four parts.
        var scope = credential.Split('/');
        if (scope.Length != 5 || scope[4] != Terminator || signature.Length != 64)
            return false;
        authorization = new SigV4Authorization(scope[0], scope[1], scope[2], scope[3], signed.Split(';'), signature);
        return true;
    }

    /// <summary>Recomputes the signature of a request for the given authorization's scope and signed headers.</summary>
    public static string ComputeSignature(SigV4Request request, SigV4Authorization authorization, string amzDate, string secretAccessKey, bool s3 = false)
    {
        ArgumentNullException.ThrowIfNull(authorization);
        var canonical = CanonicalRequest(request, authorization.SignedHeaders, s3);
        var stringToSign = StringToSign(amzDate, authorization.Scope, canonical);
        return Signature(SigningKey(secretAccessKey, authorization.Date, authorization.Region, authorization.Service), stringToSign);
    }

    /// <summary>Compares two hex signatures in constant time.</summary>
    public static bool SignaturesEqual(string expected, string actual)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(actual));

    /// <summary>Signs an outgoing request in place: sets Host, x-amz-date, x-amz-content-sha256, x-amz-security-token
    /// (when the credentials carry one) and Authorization. The content, if any, is buffered to hash it.</summary>
    public static async Task SignAsync(HttpRequestMessage request, AwsCredentials credentials, string region, string service,
        DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(credentials);
        var uri = request.RequestUri ?? throw new ArgumentException("The request has no RequestUri.", nameof(request));
        if (!uri.IsAbsoluteUri)
            throw new ArgumentException("SigV4 signs absolute URIs only.", nameof(request));

        var payload = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var payloadHash = HashHex(payload);
        var amzDate = FormatAmzDate(now);

        request.Headers.Remove("Authorization");
        request.Headers.Host = uri.IsDefaultPort ? uri.Host : uri.Authority;
        request.Headers.Remove(DateHeader);
        request.Headers.TryAddWithoutValidation(DateHeader, amzDate);
        request.Headers.Remove(ContentSha256Header);
        request.Headers.TryAddWithoutValidation(ContentSha256Header, payloadHash);
        request.Headers.Remove(SecurityTokenHeader);
        if (!string.IsNullOrEmpty(credentials.SessionToken))
            request.Headers.TryAddWithoutValidation(SecurityTokenHeader, credentials.SessionToken);

        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, values) in request.Headers.NonValidated)
            foreach (var value in values)
                headers.Add(new(name, value));
        if (request.Content is not null)
            foreach (var (name, values) in request.Content.Headers.NonValidated)
                foreach (var value in values)
                    headers.Add(new(name, value));

        var signedHeaders = DefaultSignedHeaders(headers);
        var wire = new SigV4Request(request.Method.Method, uri.AbsolutePath, uri.Query, headers, payloadHash);
        var canonical = CanonicalRequest(wire, signedHeaders, s3: string.Equals(service, "s3", StringComparison.Ordinal));
        var date = amzDate[..8];
        var scope = CredentialScope(date, region, service);
        var signature = Signature(SigningKey(credentials.SecretAccessKey, date, region, service), StringToSign(amzDate, scope, canonical));
        request.Headers.TryAddWithoutValidation("Authorization", AuthorizationHeader(credentials.AccessKeyId, scope, signedHeaders, signature));
    }

    private static string CollapseSpaces(string value)
    {
        var trimmed = value.Trim();
        if (!trimmed.Contains("  ", StringComparison.Ordinal))
            return trimmed;
        var sb = new StringBuilder(trimmed.Length);
        var previousSpace = false;
        foreach (var c in trimmed)
        {
            if (c == ' ')
            {
                if (!previousSpace) sb.Append(c);
                previousSpace = true;
            }
            else
            {
                sb.Append(c);
                previousSpace = false;
            }
        }
        return sb.ToString();
    }
}
