using System.Runtime.CompilerServices;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Server.Tests.Fakes;

/// <summary>A provider whose answers the test scripts: it records every request and replies with
/// <see cref="Reply"/> (default: echoes the last user text), streamed word by word.</summary>
internal sealed class ScriptedProvider : IConverseClient, IProviderFactory
{
    public string Type => "scripted";

    /// <summary>Requests received, in order.</summary>
    public List<ConverseRequest> Requests { get; } = [];

    /// <summary>Produces the response of a request; throw a BasaltException to simulate an upstream error.</summary>
    public Func<ConverseRequest, ConverseResponse> Reply { get; set; } = Echo;

    /// <summary>When set, streams come from this script instead of <see cref="Reply"/> (to fail mid-stream or go slowly).</summary>
    public Func<ConverseRequest, CancellationToken, IAsyncEnumerable<ConverseStreamEvent>>? Stream { get; set; }

    public IConverseClient Create(ProviderContext context) => this;

    public Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        lock (Requests)
            Requests.Add(request);
        return Task.FromResult(Reply(request));
    }

    public async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Stream is not null)
        {
            lock (Requests)
                Requests.Add(request);
            await foreach (var e in Stream(request, cancellationToken))
                yield return e;
            yield break;
        }
        var response = await ConverseAsync(request, cancellationToken);
        yield return new MessageStartEvent(ConversationRole.Assistant);
        for (var i = 0; i < response.Output.Content.Count; i++)
        {
            switch (response.Output.Content[i])
            {
                case TextBlock t:
                    foreach (var piece in SplitKeepingSpaces(t.Text))
                        yield return new ContentBlockDeltaEvent(i, new TextDelta(piece));
                    break;
                case ToolUseBlock u:
                    yield return new ContentBlockStartEvent(i, u.ToolUseId, u.Name);
                    var json = u.Input.GetRawText();
                    var half = json.Length / 2;
                    yield return new ContentBlockDeltaEvent(i, new ToolUseDelta(json[..half]));
                    yield return new ContentBlockDeltaEvent(i, new ToolUseDelta(json[half..]));
                    break;
            }
            yield return new ContentBlockStopEvent(i);
        }
        yield return new MessageStopEvent(response.StopReason);
        yield return new MetadataEvent(response.Usage, response.LatencyMs);
    }

    public Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
        => Task.FromResult(CountWords(request));

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    /// <summary>Replies "echo: " + the last user text; usage counts words.</summary>
    public static ConverseResponse Echo(ConverseRequest request)
    {
        var last = request.Messages.LastOrDefault(m => m.Role == ConversationRole.User);
        var text = last?.Content.OfType<TextBlock>().LastOrDefault()?.Text ?? "";
        var reply = "echo: " + text;
        return new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock(reply)]),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(CountWords(request), reply.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length),
            LatencyMs = 1,
        };
    }

    private static int CountWords(ConverseRequest request)
    {
        var n = 0;
        foreach (var m in request.Messages)
            foreach (var b in m.Content)
                if (b is TextBlock t)
                    n += t.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        return n;
    }

    private static IEnumerable<string> SplitKeepingSpaces(string text)
    {
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
            if (i == text.Length || text[i] == ' ')
            {
                yield return text[start..i];
                start = i;
            }
    }
}
