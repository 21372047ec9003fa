using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Engine.Templates;

namespace Basalt.Providers.Local;

/// <summary>The local provider: renders the conversation with the model's chat template, generates with the
/// pure-C# engine, and turns tool-call text into toolUse blocks. Non-streamed calls aggregate the stream, so both
/// give the same result.</summary>
internal sealed class LocalConverseClient : IConverseClient
{
    private readonly string _providerName;
    private readonly Dictionary<string, ModelEntry> _models = new(StringComparer.Ordinal);
    private readonly LocalModelStore _store;
    private readonly ConditionalWeakTable<ILocalModel, PreparedTemplate> _templates = new();

    private sealed record PreparedTemplate(ChatTemplate Template, ToolCallFormat Format);

    public LocalConverseClient(string providerName, IReadOnlyList<ModelEntry> models, LocalModelStore store)
    {
        _providerName = providerName;
        _store = store;
        foreach (var m in models)
        {
            if (string.IsNullOrWhiteSpace(m.Path))
                throw new InvalidDataException($"models: '{m.Id}' is served by the local provider '{providerName}' and needs a path to a GGUF file.");
            _models[m.Upstream] = m;
            _models.TryAdd(m.Id, m);
        }
    }

    /// <summary>The model store (exposed for tests and operations).</summary>
    internal LocalModelStore Store => _store;

    public async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        var content = new List<ContentBlock>();
        var text = new System.Text.StringBuilder();
        var tools = new Dictionary<int, (string Id, string Name, System.Text.StringBuilder Input)>();
        StopReason stop = StopReason.EndTurn;
        TokenUsage usage = new(0, 0);
        long latency = 0;
        await foreach (var e in ConverseStreamAsync(request, cancellationToken).ConfigureAwait(false))
        {
            switch (e)
            {
                case ContentBlockStartEvent s:
                    tools[s.ContentBlockIndex] = (s.ToolUseId, s.ToolName, new System.Text.StringBuilder());
                    break;
                case ContentBlockDeltaEvent { Delta: TextDelta t }:
                    text.Append(t.Text);
                    break;
                case ContentBlockDeltaEvent { Delta: ToolUseDelta u } d:
                    tools[d.ContentBlockIndex].Input.Append(u.InputJsonFragment);
                    break;
                case MessageStopEvent m:
                    stop = m.StopReason;
                    break;
                case MetadataEvent md:
                    usage = md.Usage;
                    latency = md.LatencyMs;
                    break;
            }
        }
        if (text.Length > 0 || tools.Count == 0)
            content.Add(new TextBlock(text.ToString()));
        foreach (var (_, (id, name, input)) in tools.OrderBy(t => t.Key))
        {
            using var doc = JsonDocument.Parse(input.ToString());
            content.Add(new ToolUseBlock(id, name, doc.RootElement.Clone()));
        }
        return new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, content),
            StopReason = stop,
            Usage = usage,
            LatencyMs = latency,
        };
    }

    public async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = Stopwatch.GetTimestamp();
        var entry = Resolve(request.ModelId);
        using var lease = await _store.AcquireAsync(entry.Id, entry.Path!, cancellationToken).ConfigureAwait(false);
        var model = lease.Model;
        var prepared = Prepare(entry, model);
        var prompt = Tokenize(request, entry, model, prepared);
        var context = Math.Min(model.ContextLength, entry.ContextWindow);
        if (prompt.Length >= context)
            throw ContextOverflow(entry, prompt.Length, context);
        var sampling = LocalPrompt.Sampling(request, context - prompt.Length) with { ContextLength = context };
        var useTools = request.ToolConfig is { Tools.Count: > 0 } tc && tc.ToolChoice?.Kind != ToolChoiceKind.None;

        var channel = Channel.CreateUnbounded<ConverseStreamEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stopGeneration = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var generation = Task.Factory.StartNew(
            () => Generate(model, prompt, sampling, request.InferenceConfig?.StopSequences ?? [], useTools ? prepared.Format : null, started, channel.Writer, stopGeneration.Token),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return e;
        }
        finally
        {
            // The caller may stop reading early: stop the engine and wait so the model is free for the next request.
            stopGeneration.Cancel();
            try
            {
                await generation.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static void Generate(ILocalModel model, int[] prompt, LocalSampling sampling, IReadOnlyList<string> stopSequences,
        ToolCallFormat? toolFormat, long started, ChannelWriter<ConverseStreamEvent> writer, CancellationToken cancellationToken)
    {
        try
        {
            writer.TryWrite(new MessageStartEvent(ConversationRole.Assistant));
            var stops = new StopSequenceMatcher(stopSequences);
            var toolStream = toolFormat is { } f ? new ToolCallStream(f) : null;
            var textOpen = false;

            void EmitText(string text)
            {
                if (text.Length == 0) return;
                if (toolStream is not null)
                    text = toolStream.Push(text);
                if (text.Length == 0) return;
                textOpen = true;
                writer.TryWrite(new ContentBlockDeltaEvent(0, new TextDelta(text)));
            }

            var result = model.Generate(prompt, sampling, (_, piece) =>
            {
                if (cancellationToken.IsCancellationRequested)
                    return false;
                EmitText(stops.Push(piece));
                return stops.Matched is null;
            }, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();

            EmitText(stops.Flush());
            IReadOnlyList<ParsedToolCall> calls = [];
            if (toolStream is not null)
            {
                var end = toolStream.Finish();
                calls = end.Calls;
                if (end.Text.Length > 0)
                {
                    textOpen = true;
                    writer.TryWrite(new ContentBlockDeltaEvent(0, new TextDelta(end.Text)));
                }
            }
            if (textOpen)
                writer.TryWrite(new ContentBlockStopEvent(0));
            var index = textOpen ? 1 : 0;
            foreach (var call in calls)
            {
                writer.TryWrite(new ContentBlockStartEvent(index, NewToolUseId(), call.Name));
                writer.TryWrite(new ContentBlockDeltaEvent(index, new ToolUseDelta(call.ArgumentsJson)));
                writer.TryWrite(new ContentBlockStopEvent(index));
                index++;
            }
            var reason = calls.Count > 0 ? StopReason.ToolUse
                : stops.Matched is not null ? StopReason.StopSequence
                : result.Finish == LocalFinish.MaxTokens ? StopReason.MaxTokens
                : StopReason.EndTurn;
            writer.TryWrite(new MessageStopEvent(reason));
            var latency = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            writer.TryWrite(new MetadataEvent(new TokenUsage(result.PromptTokens, result.GeneratedTokens), latency));
            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    public async Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var entry = Resolve(request.ModelId);
        using var lease = await _store.AcquireAsync(entry.Id, entry.Path!, cancellationToken).ConfigureAwait(false);
        return Tokenize(request, entry, lease.Model, Prepare(entry, lease.Model)).Length;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
        => serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() => _store.Dispose();

    private ModelEntry Resolve(string modelId)
        => _models.TryGetValue(modelId, out var entry) ? entry
            : throw BasaltException.NotFound($"The local provider '{_providerName}' does not serve the model '{modelId}'.");

    private PreparedTemplate Prepare(ModelEntry entry, ILocalModel model)
    {
        if (_templates.TryGetValue(model, out var prepared))
            return prepared;
        ChatTemplate template;
        try
        {
            template = model.ChatTemplate is { Length: > 0 } source ? ChatTemplate.Parse(source) : ChatTemplate.Fallback;
        }
        catch (TemplateException e)
        {
            throw new BasaltException(ErrorKind.ModelError, $"The chat template of model '{entry.Id}' cannot be used: {e.Message}", e);
        }
        prepared = new PreparedTemplate(template, ToolCallParser.DetectFormat(model.ChatTemplate));
        _templates.AddOrUpdate(model, prepared);
        return prepared;
    }

    private static int[] Tokenize(ConverseRequest request, ModelEntry entry, ILocalModel model, PreparedTemplate prepared)
    {
        var text = LocalPrompt.Render(request, prepared.Template, prepared.Format, model.BosText, model.EosText);
        // Templates that print bos_token themselves must not get a second BOS from the tokenizer.
        var addSpecial = model.BosText.Length == 0 || !text.StartsWith(model.BosText, StringComparison.Ordinal);
        return model.Tokenize(text, addSpecial);
    }

    private static BasaltException ContextOverflow(ModelEntry entry, int promptTokens, int context)
        => BasaltException.Validation(
            $"The prompt is {promptTokens} tokens but model '{entry.Id}' has a context window of {context} tokens, which must also hold the reply. Shorten the conversation or the system prompt.");

    private static string NewToolUseId() => "tooluse_" + Guid.NewGuid().ToString("N")[..22];
}
