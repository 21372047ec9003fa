using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Basalt.Server.Hosting;

/// <summary>Lets one cleartext endpoint serve both HTTP/1.1 and prior-knowledge HTTP/2 (h2c).
/// The AWS SDK for JavaScript's BedrockRuntimeClient always speaks HTTP/2, also to http:// endpoints, while Kestrel
/// picks HTTP/1.1 on a cleartext endpoint that allows both (dotnet/aspnetcore#56984). A connection that opens with
/// the HTTP/2 client preface is marked as if ALPN had chosen "h2"; every other connection is left untouched.
/// Needs <see cref="KestrelServerOptions.AllowAlternateSchemes"/> so that the requests' :scheme "http" is accepted.</summary>
internal static class Http2PriorKnowledge
{
    /// <summary>The HTTP/2 client connection preface (RFC 9113 section 3.4).</summary>
    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private const int PrefaceLength = 24;

    /// <summary>Enables HTTP/1.1 and sniffed HTTP/2 on a cleartext endpoint.</summary>
    public static void Enable(ListenOptions listen)
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.Use(next => async connection =>
        {
            if (connection.Features.Get<ITlsConnectionFeature>() is null && await StartsWithPrefaceAsync(connection.Transport.Input, connection.ConnectionClosed))
            {
                var marker = new CleartextHttp2();
                connection.Features.Set<ITlsConnectionFeature>(marker);
                connection.Features.Set<ITlsApplicationProtocolFeature>(marker);
            }
            await next(connection);
        });
    }

    /// <summary>Peeks at the first bytes without consuming them.</summary>
    private static async ValueTask<bool> StartsWithPrefaceAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            var buffer = result.Buffer;
            var verdict = Compare(buffer);
            if (verdict is not null || result.IsCompleted || result.IsCanceled)
            {
                // Nothing consumed, nothing examined: the HTTP layer reads the same bytes at once.
                input.AdvanceTo(buffer.Start);
                return verdict == true;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>True: the preface; false: something else; null: a prefix of the preface, more bytes needed.</summary>
    private static bool? Compare(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[PrefaceLength];
        var n = (int)Math.Min(buffer.Length, PrefaceLength);
        buffer.Slice(0, n).CopyTo(head);
        if (!head[..n].SequenceEqual(Preface[..n]))
            return false;
        return n == PrefaceLength ? true : null;
    }

    /// <summary>Makes Kestrel's protocol selection see "h2" as if negotiated by ALPN; there is no certificate.</summary>
    private sealed class CleartextHttp2 : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        public X509Certificate2? ClientCertificate { get; set; }

        public ReadOnlyMemory<byte> ApplicationProtocol => "h2"u8.ToArray();

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
