using System.Net;
using System.Text;
using System.Text.Json;
using Basalt.Server.Auth;
using Basalt.Server.Tests.Fakes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Basalt.Server.Tests.Auth;

public sealed class SigV4AuthTests
{
    private static async Task<RunningServer> StartAsync()
        => await RunningServer.StartAsync(configureApp: app => TestEndpoints.Map(app), configureServices: TestEndpoints.AddServices);

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<(HttpStatusCode Status, string? Code, string Message)> ErrorOf(HttpResponseMessage response)
    {
        var code = response.Headers.TryGetValues("x-amzn-ErrorType", out var v) ? v.Single() : null;
        var text = await response.Content.ReadAsStringAsync();
        var message = response.StatusCode == HttpStatusCode.OK ? text : JsonDocument.Parse(text).RootElement.GetProperty("message").GetString()!;
        return (response.StatusCode, code, message);
    }

    [Fact]
    public void Sign_AwsDocumentationExample_ReproducesThePublishedSignature()
    {
        // The IAM ListUsers example of AWS's Signature V4 documentation (secret wJalr...EXAMPLEKEY, 20150830T123600Z).
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = "/?Action=ListUsers&Version=2010-05-08";
        context.Request.Headers.Host = "iam.amazonaws.com";
        context.Request.Headers.ContentType = "application/x-www-form-urlencoded; charset=utf-8";
        context.Request.Headers["x-amz-date"] = "20150830T123600Z";
        var auth = SigV4Verifier.Parse("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")!;

        var canonical = SigV4Verifier.CanonicalRequest(context.Request, auth.SignedHeaders, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        var signature = SigV4Verifier.ExpectedSignature(context.Request, auth, "20150830T123600Z", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");

        Assert.Equal("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(canonical))));
        Assert.Equal(auth.Signature, signature);
    }

    [Theory]
    [InlineData("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host")]
    [InlineData("AWS4-HMAC-SHA256 Credential=AKID/2015/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")]
    [InlineData("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/other, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")]
    [InlineData("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=Host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")]
    public void Parse_MalformedHeader_ReturnsNull(string header) => Assert.Null(SigV4Verifier.Parse(header));

    [Fact]
    public async Task SignedPost_ValidSignature_ReachesEndpointAsTheAwsKey()
    {
        await using var server = await StartAsync();
        using var client = server.CreateSigV4Client();

        using var response = await client.PostAsync("/test/converse", Json("""{"model":"echo","text":"signed hello"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("echo: signed hello", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SignedPost_ByTheOutgoingBedrockSigner_Verifies()
    {
        await using var server = await StartAsync();
        using var client = new HttpClient(new CoreSigner(new Basalt.Core.Aws.AwsCredentials(server.AwsAccessKeyId, server.AwsSecretAccessKey)) { InnerHandler = new HttpClientHandler() })
        {
            BaseAddress = server.BaseAddress,
        };

        using var response = await client.PostAsync("/test/converse?trace=1", Json("""{"model":"echo","text":"core signer"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("echo: core signer", await response.Content.ReadAsStringAsync());
    }

    /// <summary>Signs with Basalt.Core's SigV4 (every header but the hop-by-hop ones, as the AWS SDKs do).</summary>
    private sealed class CoreSigner(Basalt.Core.Aws.AwsCredentials credentials) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Basalt.Core.Aws.SigV4.SignAsync(request, credentials, "us-west-2", "bedrock", DateTimeOffset.UtcNow, cancellationToken);
            return await base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task SignedGet_EncodedPathAndQuery_Verifies()
    {
        await using var server = await StartAsync();
        using var client = server.CreateSigV4Client();

        // Bedrock model ids carry ':' (sent as %3A, signed encoded twice); query parameters are sorted when signed.
        using var response = await client.GetAsync("/test/whoami?b=2&a=x%20y&model=anthropic.claude-v2%3A1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("test-aws", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SignedPost_NoContentShaHeader_ServerHashesTheBody()
    {
        await using var server = await StartAsync();
        var signer = server.CreateSigner();
        signer.OmitContentSha256 = true;
        using var client = server.CreateSigV4Client(signer);

        using var response = await client.PostAsync("/test/upload", Json("""{"n":1}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("7", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SignedRequest_WrongSecret_Returns403InvalidSignature()
    {
        await using var server = await StartAsync();
        using var client = server.CreateSigV4Client(secretAccessKey: server.AwsSecretAccessKey + "x");

        using var response = await client.PostAsync("/model/echo/converse", Json("{}"));
        var (status, code, message) = await ErrorOf(response);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("InvalidSignatureException", code);
        Assert.Contains("signature we calculated does not match", message);
    }

    [Fact]
    public async Task SignedRequest_UnknownAccessKey_Returns403UnrecognizedClient()
    {
        await using var server = await StartAsync();
        using var client = server.CreateSigV4Client(accessKeyId: "BKIAAAAAAAAAAAAAAAAA");

        var (status, code, message) = await ErrorOf(await client.PostAsync("/model/echo/converse", Json("{}")));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("UnrecognizedClientException", code);
        Assert.Contains("BKIAAAAAAAAAAAAAAAAA", message);
    }

    [Fact]
    public async Task SignedRequest_TimestampTwentyMinutesOld_Returns403SignatureExpired()
    {
        await using var server = await StartAsync();
        var signer = server.CreateSigner();
        signer.SigningTime = DateTimeOffset.UtcNow.AddMinutes(-20);
        using var client = server.CreateSigV4Client(signer);

        var (status, code, message) = await ErrorOf(await client.PostAsync("/model/echo/converse", Json("{}")));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("InvalidSignatureException", code);
        Assert.StartsWith("Signature expired", message);
    }

    [Fact]
    public async Task SignedRequest_TimestampTenMinutesAhead_IsWithinTheSkewWindow()
    {
        await using var server = await StartAsync();
        var signer = server.CreateSigner();
        signer.SigningTime = DateTimeOffset.UtcNow.AddMinutes(10);
        using var client = server.CreateSigV4Client(signer);

        Assert.Equal("test-aws", await client.GetStringAsync("/test/whoami"));
    }

    [Fact]
    public async Task SignedRequest_BodyReplacedAfterSigning_Returns403PayloadMismatch()
    {
        await using var server = await StartAsync();
        var signer = server.CreateSigner();
        signer.AfterSigning = r =>
        {
            r.Content = Json("""{"model":"echo","text":"tampered"}""");
            return Task.CompletedTask;
        };
        using var client = server.CreateSigV4Client(signer);

        var (status, code, message) = await ErrorOf(await client.PostAsync("/test/converse", Json("""{"model":"echo","text":"original"}""")));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("InvalidSignatureException", code);
        Assert.Contains("x-amz-content-sha256", message);
        Assert.Empty(server.Provider.Requests);
    }

    [Fact]
    public async Task SignedRequest_BodyReplacedWithoutContentSha_Returns403BadSignature()
    {
        await using var server = await StartAsync();
        var signer = server.CreateSigner();
        signer.OmitContentSha256 = true;
        signer.AfterSigning = r =>
        {
            r.Content = Json("""{"model":"echo","text":"tampered"}""");
            return Task.CompletedTask;
        };
        using var client = server.CreateSigV4Client(signer);

        var (status, code, _) = await ErrorOf(await client.PostAsync("/test/converse", Json("""{"model":"echo","text":"original"}""")));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("InvalidSignatureException", code);
        Assert.Empty(server.Provider.Requests);
    }

    [Fact]
    public async Task SignedRequest_RevokedAwsKey_Returns403Unrecognized()
    {
        await using var server = await StartAsync();
        var issued = await server.CreateKeyAsync("ci", aws: true);
        await ((Basalt.Server.State.IStateStore)server.Services.GetService(typeof(Basalt.Server.State.IStateStore))!).RevokeKeyAsync(issued.Record.AccessKeyId!, DateTimeOffset.UtcNow);
        using var client = server.CreateSigV4Client(issued.Record.AccessKeyId, issued.Secret);

        var (status, code, message) = await ErrorOf(await client.GetAsync("/test/whoami"));

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("UnrecognizedClientException", code);
        Assert.Contains("revoked", message);
    }

    [Fact]
    public async Task SignedRequest_OpenAiPath_Returns401()
    {
        await using var server = await StartAsync();
        using var client = server.CreateSigV4Client(secretAccessKey: "wrong");

        using var response = await client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
