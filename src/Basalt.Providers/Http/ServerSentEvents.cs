using System.Runtime.CompilerServices;
using System.Text;
using Basalt.Core.Providers;

namespace Basalt.Providers.Http;

/// <summary>One server-sent event: its optional event name and its data (data lines joined with '\n').</summary>
internal readonly record struct ServerSentEvent(string? Event, string Data);

/// <summary>Reads a text/event-stream body (the WHATWG format used by OpenAI and Anthropic streaming).</summary>
internal static class ServerSentEvents
{
    /// <summary>Largest event accepted; protects the server from an upstream that never ends an event.</summary>
    public const int MaxEventChars = 16 * 1024 * 1024;

    /// <summary>Yields each event as its terminating blank line arrives; a trailing event without one is dispatched at EOF.</summary>
    public static async IAsyncEnumerable<ServerSentEvent> ReadAsync(Stream stream, string provider,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? eventName = null;
        var data = new StringBuilder();
        var hasData = false;
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw UpstreamError.Unreachable(provider, ex);
            }
            if (line is null || line.Length == 0)
            {
                if (hasData)
                    yield return new ServerSentEvent(eventName, data.ToString());
                if (line is null)
                    yield break;
                eventName = null;
                data.Clear();
                hasData = false;
                continue;
            }
            if (line[0] == ':')
                continue;
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
                value = value[1..];
            switch (field)
            {
                case "event":
                    eventName = value;
                    break;
                case "data":
                    if (hasData)
                        data.Append('\n');
                    data.Append(value);
                    hasData = true;
                    if (data.Length > MaxEventChars)
                        throw UpstreamError.Malformed(provider, $"a streamed event longer than {MaxEventChars} characters");
                    break;
            }
        }
    }
}
