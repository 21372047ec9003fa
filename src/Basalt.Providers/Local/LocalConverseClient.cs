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
        var reasoning = new System.Text.StringBuilder();
        StopReason stop = StopReason.EndTurn;
        TokenUsage usage = new(0, 0);
        long latency = 0;
        PerformanceConfig? performance = null;
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
                case ContentBlockDeltaEvent { Delta: ReasoningDelta r }:
                    reasoning.Append(r.Text);
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
                    performance = md.PerformanceConfig;
                    break;
            }
        }
        if (reasoning.Length > 0)
            content.Add(new ReasoningBlock(reasoning.ToString()));
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
            PerformanceConfig = performance,
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
        var prefill = ToolCallPrefill(request, prepared.Format);
        var promptText = LocalPrompt.Render(request, prepared.Template, prepared.Format, model.BosText, model.EosText);
        var prompt = Encode(model, promptText + prefill);
        // Thinking models: split <think>...</think> into a reasoning block (not when a tool call is forced).
        var reasoning = prefill.Length == 0 && prepared.Template.Source.Contains("<think>", StringComparison.Ordinal)
            ? new ReasoningSplitter(promptText.TrimEnd('\n').EndsWith("<think>", StringComparison.Ordinal))
            : null;
        var context = Math.Min(model.ContextLength, entry.ContextWindow);
        if (prompt.Length >= context)
            throw ContextOverflow(entry, prompt.Length, context);
        var sampling = LocalPrompt.Sampling(request, context - prompt.Length) with
        {
            ContextLength = context,
            LatencyOptimized = request.PerformanceConfig?.Latency == "optimized",
            CachePoints = CachePoints(model, request, prepared, promptText, prompt),
        };
        // Bedrock answers with the latency tier it served; the local engine serves both tiers.
        var performance = request.PerformanceConfig is { } pc ? new PerformanceConfig(pc.Latency) : null;
        var useTools = request.ToolConfig is { Tools.Count: > 0 } tc && tc.ToolChoice?.Kind != ToolChoiceKind.None;

        var channel = Channel.CreateUnbounded<ConverseStreamEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stopGeneration = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var generation = Task.Factory.StartNew(
            () => Generate(model, prompt, sampling, request.InferenceConfig?.StopSequences ?? [], useTools ? prepared.Format : null, prefill, reasoning, started, performance, channel.Writer, stopGeneration.Token),
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
        ToolCallFormat? toolFormat, string prefill, ReasoningSplitter? reasoningSplitter, long started, PerformanceConfig? performance,
        ChannelWriter<ConverseStreamEvent> writer, CancellationToken cancellationToken)
    {
        try
        {
            writer.TryWrite(new MessageStartEvent(ConversationRole.Assistant));
            var stops = new StopSequenceMatcher(stopSequences);
            var toolStream = toolFormat is { } f ? new ToolCallStream(f) : null;
            var nextIndex = 0;
            int? reasoningIndex = null, textIndex = null;

            void CloseReasoning()
            {
                if (reasoningIndex is { } r && textIndex is null)
                    writer.TryWrite(new ContentBlockStopEvent(r));
            }

            void WriteText(string text)
            {
                if (text.Length == 0) return;
                if (textIndex is null)
                {
                    CloseReasoning();
                    textIndex = nextIndex++;
                }
                writer.TryWrite(new ContentBlockDeltaEvent(textIndex.Value, new TextDelta(text)));
            }

            void WriteReasoning(string text)
            {
                if (text.Length == 0 || textIndex is not null) return;
                reasoningIndex ??= nextIndex++;
                writer.TryWrite(new ContentBlockDeltaEvent(reasoningIndex.Value, new ReasoningDelta(text)));
            }

            void EmitAnswer(string text)
            {
                if (text.Length > 0 && toolStream is not null)
                    text = toolStream.Push(text);
                WriteText(text);
            }

            void Emit(string piece)
            {
                if (reasoningSplitter is null)
                {
                    EmitAnswer(piece);
                    return;
                }
                var (reasoning, answer) = reasoningSplitter.Push(piece);
                WriteReasoning(reasoning);
                EmitAnswer(answer);
            }

            // The forced start of a tool call is part of the reply the parser sees, though the model did not generate it.
            EmitAnswer(prefill);
            var result = model.Generate(prompt, sampling, (_, piece) =>
            {
                if (cancellationToken.IsCancellationRequested)
                    return false;
                Emit(stops.Push(piece));
                return stops.Matched is null;
            }, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();

            Emit(stops.Flush());
            if (reasoningSplitter is not null)
            {
                var (reasoning, answer) = reasoningSplitter.Flush();
                WriteReasoning(reasoning);
                EmitAnswer(answer);
            }
            IReadOnlyList<ParsedToolCall> calls = [];
            if (toolStream is not null)
            {
                var end = toolStream.Finish();
                calls = end.Calls;
                WriteText(end.Text);
            }
            CloseReasoning();
            if (textIndex is { } t)
                writer.TryWrite(new ContentBlockStopEvent(t));
            foreach (var call in calls)
            {
                var index = nextIndex++;
                writer.TryWrite(new ContentBlockStartEvent(index, NewToolUseId(), call.Name));
                writer.TryWrite(new ContentBlockDeltaEvent(index, new ToolUseDelta(call.ArgumentsJson)));
                writer.TryWrite(new ContentBlockStopEvent(index));
            }
            var reason = calls.Count > 0 ? StopReason.ToolUse
                : stops.Matched is not null ? StopReason.StopSequence
                : result.Finish == LocalFinish.MaxTokens ? StopReason.MaxTokens
                : StopReason.EndTurn;
            writer.TryWrite(new MessageStopEvent(reason));
            var latency = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            // As Bedrock counts: inputTokens are the prompt tokens neither read from nor written to the cache.
            var usage = new TokenUsage(result.PromptTokens - result.CacheReadTokens - result.CacheWriteTokens, result.GeneratedTokens,
                result.CacheReadTokens, result.CacheWriteTokens);
            writer.TryWrite(new MetadataEvent(usage, latency, PerformanceConfig: performance));
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
        var prepared = Prepare(entry, lease.Model);
        var text = LocalPrompt.Render(request, prepared.Template, prepared.Format, lease.Model.BosText, lease.Model.EosText);
        return Encode(lease.Model, text + ToolCallPrefill(request, prepared.Format)).Length;
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

    /// <summary>toolChoice any or a named tool cannot constrain sampling, so the reply is started for the model with the opening
    /// of a tool call in its own format (empty when the choice is auto or the format is unknown).</summary>
    private static string ToolCallPrefill(ConverseRequest request, ToolCallFormat format)
    {
        if (request.ToolConfig is not { Tools.Count: > 0, ToolChoice: { Kind: ToolChoiceKind.Any or ToolChoiceKind.Tool } choice })
            return "";
        var name = choice.Kind == ToolChoiceKind.Tool ? JsonEncodedText.Encode(choice.Name ?? "").ToString() : null;
        return (format, name) switch
        {
            (ToolCallFormat.Hermes, null) => "<tool_call>\n",
            (ToolCallFormat.Hermes, _) => "<tool_call>\n{\"name\": \"" + name + "\", \"arguments\": ",
            (ToolCallFormat.Llama3Json, null) => "{\"name\": \"",
            (ToolCallFormat.Llama3Json, _) => "{\"name\": \"" + name + "\", \"parameters\": ",
            (ToolCallFormat.Mistral, null) => "[TOOL_CALLS][",
            (ToolCallFormat.Mistral, _) => "[TOOL_CALLS][{\"name\": \"" + name + "\", \"arguments\": ",
            _ => "",
        };
    }

    private static int[] Encode(ILocalModel model, string text)
    {
        // Templates that print bos_token themselves must not get a second BOS from the tokenizer.
        var addSpecial = model.BosText.Length == 0 || !text.StartsWith(model.BosText, StringComparison.Ordinal);
        return model.Tokenize(text, addSpecial);
    }

    /// <summary>The request's cachePoints as token counts of the prompt: each one's character offset in the rendered prompt,
    /// tokenized alone, agrees with the whole prompt's tokens up to some length (tokens may merge across the boundary, so the
    /// agreeing length is the safe prefix to pin).</summary>
    private static IReadOnlyList<Engine.Generation.CachePoint> CachePoints(ILocalModel model, ConverseRequest request, PreparedTemplate prepared, string promptText, int[] prompt)
    {
        var offsets = LocalPrompt.CachePointOffsets(request, prepared.Template, prepared.Format, model.BosText, model.EosText, promptText);
        if (offsets.Count == 0)
            return [];
        var points = new List<Engine.Generation.CachePoint>(offsets.Count);
        foreach (var (offset, ttl) in offsets)
        {
            var prefix = Encode(model, promptText[..offset]);
            var agree = 0;
            while (agree < prefix.Length && agree < prompt.Length && prefix[agree] == prompt[agree])
                agree++;
            if (agree > 0)
                points.Add(new Engine.Generation.CachePoint(agree, ttl));
        }
        return points;
    }

    private static BasaltException ContextOverflow(ModelEntry entry, int promptTokens, int context)
        => BasaltException.Validation(
            $"The prompt is {promptTokens} tokens but model '{entry.Id}' has a context window of {context} tokens, which must also hold the reply. Shorten the conversation or the system prompt.");

    private static string NewToolUseId() => "tooluse_" + Guid.NewGuid().ToString("N")[..22];
}
