using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Basalt.Server.Tests.Fakes;

/// <summary>Signs outgoing requests with AWS Signature V4 the way the AWS SDKs do for non-S3 services (header signing,
/// x-amz-content-sha256 sent, path segments encoded a second time). Written from the AWS documentation for the tests,
/// independently of the server's verifier. Settable knobs let tests send deliberately broken signatures.</summary>
internal sealed class TestSigV4Signer(string accessKeyId, string secretAccessKey, string region, string service) : DelegatingHandler
{
    /// <summary>The signing time; defaults to now.</summary>
    public DateTimeOffset? SigningTime { get; set; }

    /// <summary>When true, x-amz-content-sha256 is not sent (the server then hashes the body itself).</summary>
    public bool OmitContentSha256 { get; set; }

    /// <summary>Runs on the request after signing, to tamper with it.</summary>
    public Func<HttpRequestMessage, Task>? AfterSigning { get; set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var time = (SigningTime ?? DateTimeOffset.UtcNow).UtcDateTime;
        var amzDate = time.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var date = amzDate[..8];
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var payloadHash = Hex(SHA256.HashData(body));
        var uri = request.RequestUri!;

        request.Headers.Remove("x-amz-date");
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        if (!OmitContentSha256)
            request.Headers.TryAddWithoutValidation("x-amz-content-sha256", payloadHash);

        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}",
            ["x-amz-date"] = amzDate,
        };
        if (!OmitContentSha256)
            headers["x-amz-content-sha256"] = payloadHash;
        if (request.Content?.Headers.ContentType is { } ct)
            headers["content-type"] = ct.ToString();

        var canonicalUri = string.Join('/', uri.AbsolutePath.Split('/').Select(s => Uri.EscapeDataString(s)));
        var query = uri.Query.TrimStart('?');
        var canonicalQuery = query.Length == 0 ? "" : string.Join('&', query.Split('&')
            .Select(p => p.Split('=', 2))
            .Select(kv => (K: Uri.EscapeDataString(Uri.UnescapeDataString(kv[0])), V: Uri.EscapeDataString(Uri.UnescapeDataString(kv.Length > 1 ? kv[1] : ""))))
            .OrderBy(kv => kv.K, StringComparer.Ordinal).ThenBy(kv => kv.V, StringComparer.Ordinal)
            .Select(kv => kv.K + "=" + kv.V));
        var signedHeaders = string.Join(';', headers.Keys);
        var canonicalRequest = request.Method.Method + "\n" + canonicalUri + "\n" + canonicalQuery + "\n"
            + string.Concat(headers.Select(h => h.Key + ":" + h.Value.Trim() + "\n")) + "\n" + signedHeaders + "\n" + payloadHash;
        var scope = $"{date}/{region}/{service}/aws4_request";
        var stringToSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var kDate = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secretAccessKey), Encoding.UTF8.GetBytes(date));
        var kRegion = HMACSHA256.HashData(kDate, Encoding.UTF8.GetBytes(region));
        var kService = HMACSHA256.HashData(kRegion, Encoding.UTF8.GetBytes(service));
        var kSigning = HMACSHA256.HashData(kService, Encoding.UTF8.GetBytes("aws4_request"));
        var signature = Hex(HMACSHA256.HashData(kSigning, Encoding.UTF8.GetBytes(stringToSign)));
        request.Headers.TryAddWithoutValidation("Authorization", $"AWS4-HMAC-SHA256 Credential={accessKeyId}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}");
        if (AfterSigning is not null)
            await AfterSigning(request);
        return await base.SendAsync(request, cancellationToken);
    }

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
