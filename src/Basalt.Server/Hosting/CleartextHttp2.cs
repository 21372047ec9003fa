using System.Buffers;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace Basalt.Server.Hosting;

/// <summary>Serves HTTP/1.1 and prior-knowledge HTTP/2 (h2c) on the same cleartext port.
/// The AWS SDK for JavaScript v3 talks HTTP/2 to Bedrock runtime endpoints, so against an http:// endpoint it
/// opens h2c with prior knowledge; Kestrel (as of .NET 10) picks HTTP/1.1 for every cleartext connection of a
/// mixed endpoint (dotnet/aspnetcore#56984). This connection middleware reads the first bytes without consuming
/// them and, when they are the 24-byte HTTP/2 connection preface, tells Kestrel's protocol selection that "h2"
/// was negotiated, which is how it chooses HTTP/2 after TLS ALPN.</summary>
internal static class CleartextHttp2
{
    /// <summary>RFC 9113 section 3.4: the client connection preface.</summary>
    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>Enables HTTP/1.1 and h2c on a cleartext endpoint.</summary>
    public static void UseCleartextHttp2(this ListenOptions listen)
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.Use(next => async connection =>
        {
            if (connection.Features.Get<ITlsConnectionFeature>() is null && await StartsWithPrefaceAsync(connection.Transport.Input, connection.ConnectionClosed))
            {
                // Kestrel selects HTTP/2 for a connection with a TLS feature whose ALPN result is "h2".
                connection.Features.Set<ITlsConnectionFeature>(PriorKnowledge.Instance);
                connection.Features.Set<ITlsApplicationProtocolFeature>(PriorKnowledge.Instance);
            }
            await next(connection);
        });
    }

    /// <summary>Peeks at the input until it matches or departs from the preface; consumes nothing.</summary>
    internal static async Task<bool> StartsWithPrefaceAsync(System.IO.Pipelines.PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            System.IO.Pipelines.ReadResult result;
            try
            {
                result = await input.ReadAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            var buffer = result.Buffer;
            var verdict = Match(buffer);
            if (verdict is not null || result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start);
                return verdict == true;
            }
            // A prefix of the preface so far: examine everything, consume nothing, wait for more.
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>True: the preface; false: something else; null: too short to tell.</summary>
    private static bool? Match(ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[24];
        var n = (int)Math.Min(buffer.Length, Preface.Length);
        buffer.Slice(0, n).CopyTo(head);
        if (!head[..n].SequenceEqual(Preface[..n]))
            return false;
        return n == Preface.Length ? true : null;
    }

    private sealed class PriorKnowledge : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        public static readonly PriorKnowledge Instance = new();

        public ReadOnlyMemory<byte> ApplicationProtocol { get; } = "h2"u8.ToArray();

        public X509Certificate2? ClientCertificate { get => null; set { } }

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
