using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;
using Basalt.Guardrails;
using Basalt.Guardrails.Resources;
using Basalt.Server.State;

namespace Basalt.Server.Guardrails;

/// <summary>Applies a request's guardrailConfig around the model call: the input (the guardContent blocks, or without them
/// all user text) before the model is called, the output after. An intervention answers with the blocked messaging and
/// stopReason guardrail_intervened; the trace (enabled, enabled_full) carries the assessments. ConverseStream in sync mode
/// holds text back until it is assessed; in async mode text flows and assessment runs behind it, an intervention ending
/// the stream.</summary>
internal sealed class GuardrailConverseClient(IConverseClient inner, GuardrailRegistry registry) : DelegatingConverseClient(inner)
{
    /// <summary>Characters of new model text that trigger an assessment while streaming (Bedrock assesses streamed output in
    /// batches too); smaller batches release text sooner in sync mode at the cost of more assessments.</summary>
    public const int StreamBatchCharacters = 256;

    public override async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        if (request.GuardrailConfig is not { } config)
            return await base.ConverseAsync(request, cancellationToken);
        var (row, policies) = await registry.ResolveAsync(config.GuardrailIdentifier, config.GuardrailVersion, cancellationToken);
        var trace = new TraceBuilder(row.Id, config.Trace);
        var started = Stopwatch.GetTimestamp();

        var (units, refs) = InputUnits(request);
        var input = Assess(policies, GuardrailSource.Input, units, trace.Full);
        trace.Input = input;
        if (input.Blocked)
            return Intervened(input.Outputs[0], TokenUsage0, started, trace);
        if (input.Intervened)
            request = Anonymize(request, refs, input.Outputs);

        var response = await base.ConverseAsync(request, cancellationToken);
        var outputUnits = ContextUnits(units);
        var texts = new List<int>();
        for (var i = 0; i < response.Output.Content.Count; i++)
            if (response.Output.Content[i] is TextBlock t)
            {
                outputUnits.Add(new GuardrailTextUnit(t.Text));
                texts.Add(i);
            }
        if (texts.Count == 0)
            return response with { Trace = trace.Build() ?? response.Trace };
        var output = Assess(policies, GuardrailSource.Output, outputUnits, trace.Full);
        trace.Outputs.Add(output);
        if (output.Blocked)
        {
            trace.ModelOutput = OutputText(response.Output);
            return Intervened(output.Outputs[0], response.Usage, started, trace);
        }
        if (output.Intervened)
        {
            var content = response.Output.Content.ToArray();
            for (var k = 0; k < texts.Count; k++)
                content[texts[k]] = new TextBlock(output.Outputs[k]);
            return response with
            {
                Output = response.Output with { Content = content },
                StopReason = StopReason.GuardrailIntervened,
                Trace = trace.Build() ?? response.Trace,
            };
        }
        return response with { Trace = trace.Build() ?? response.Trace };
    }

    public override async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (request.GuardrailConfig is not { } config)
        {
            await foreach (var e in base.ConverseStreamAsync(request, cancellationToken))
                yield return e;
            yield break;
        }
        var (row, policies) = await registry.ResolveAsync(config.GuardrailIdentifier, config.GuardrailVersion, cancellationToken);
        var trace = new TraceBuilder(row.Id, config.Trace);
        var started = Stopwatch.GetTimestamp();
        var (units, refs) = InputUnits(request);
        var input = Assess(policies, GuardrailSource.Input, units, trace.Full);
        trace.Input = input;
        if (input.Blocked)
        {
            foreach (var e in InterventionEvents(0, input.Outputs[0], TokenUsage0, started, trace, startMessage: true))
                yield return e;
            yield break;
        }
        if (input.Intervened)
            request = Anonymize(request, refs, input.Outputs);
        var context = ContextUnits(units);

        var sync = config.StreamProcessingMode != "async";
        var block = new StringBuilder();  // the current text block's text, for assessment
        var released = new StringBuilder(); // sync: the (anonymized) text of the current block sent so far
        var assessedLength = 0;
        Task<GuardrailOutcome>? behind = null;   // async: the assessment running behind the stream
        MetadataEvent? metadata = null;
        var masked = false; // sync: some released text was anonymized, so the stop reason becomes guardrail_intervened
        var lastIndex = 0;
        GuardrailOutcome? intervention = null;
        var any = false;

        await using var upstream = base.ConverseStreamAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (intervention is null && await upstream.MoveNextAsync())
        {
            var e = upstream.Current;
            any = true;
            switch (e)
            {
                case ContentBlockDeltaEvent { Delta: TextDelta t } d:
                    lastIndex = d.ContentBlockIndex;
                    block.Append(t.Text);
                    if (sync)
                    {
                        if (block.Length - assessedLength >= StreamBatchCharacters)
                        {
                            var o = AssessOutput(policies, context, block.ToString(), trace);
                            assessedLength = block.Length;
                            if (o.Blocked)
                            {
                                intervention = o;
                                break;
                            }
                            masked |= o.Intervened;
                            var releasable = Releasable(o, block, released, final: false);
                            if (releasable.Length > 0)
                            {
                                released.Append(releasable);
                                yield return new ContentBlockDeltaEvent(d.ContentBlockIndex, new TextDelta(releasable));
                            }
                        }
                        continue;
                    }
                    yield return e;
                    if (behind is { IsCompleted: true })
                    {
                        var o = await behind;
                        behind = null;
                        if (o.Blocked)
                        {
                            intervention = o;
                            break;
                        }
                    }
                    if (behind is null && block.Length - assessedLength >= StreamBatchCharacters)
                    {
                        var snapshot = block.ToString();
                        assessedLength = snapshot.Length;
                        behind = Task.Run(() => AssessOutput(policies, context, snapshot, trace), cancellationToken);
                    }
                    continue;
                case ContentBlockStopEvent s:
                    lastIndex = s.ContentBlockIndex;
                    if (block.Length > 0)
                    {
                        if (behind is not null)
                        {
                            var pending = await behind;
                            behind = null;
                            if (pending.Blocked)
                            {
                                intervention = pending;
                                break;
                            }
                        }
                        var o = AssessOutput(policies, context, block.ToString(), trace);
                        if (o.Blocked)
                        {
                            intervention = o;
                            break;
                        }
                        if (sync)
                        {
                            masked |= o.Intervened;
                            var rest = Releasable(o, block, released, final: true);
                            if (rest.Length > 0)
                                yield return new ContentBlockDeltaEvent(s.ContentBlockIndex, new TextDelta(rest));
                        }
                        block.Clear();
                        released.Clear();
                        assessedLength = 0;
                    }
                    yield return e;
                    continue;
                case MessageStopEvent m:
                    yield return masked ? m with { StopReason = StopReason.GuardrailIntervened } : e;
                    continue;
                case MetadataEvent md:
                    metadata = md;
                    continue;
                default:
                    yield return e;
                    continue;
            }
        }
        if (intervention is null && behind is not null)
        {
            var o = await behind;
            if (o.Blocked)
                intervention = o;
        }
        if (intervention is not null)
        {
            trace.ModelOutput = block.ToString();
            // Text not yet released (sync) is dropped: the caller sees the blocked messaging in its place.
            foreach (var e in InterventionEvents(lastIndex, intervention.Outputs[0], metadata?.Usage ?? TokenUsage0, started, trace, startMessage: !any))
                yield return e;
            yield break;
        }
        var builtTrace = trace.Build();
        if (metadata is not null)
            yield return builtTrace is null ? metadata : metadata with { Trace = builtTrace };
    }

    private static readonly TokenUsage TokenUsage0 = new(0, 0);

    /// <summary>Characters at the end of an assessed batch that sync mode keeps back until more text arrives, so an entity
    /// cut by the batch boundary (half a phone number) is anonymized whole before any of it is sent.</summary>
    public const int StreamHoldBackCharacters = 64;

    /// <summary>The text sync mode may send now: the (anonymized) block text past what was sent, up to a word boundary at
    /// least <see cref="StreamHoldBackCharacters"/> before its end unless the block is complete.</summary>
    private static string Releasable(GuardrailOutcome o, StringBuilder block, StringBuilder released, bool final)
    {
        var text = o.Intervened && o.Outputs.Count > 0 ? o.Outputs[^1] : block.ToString();
        var end = text.Length;
        if (!final)
        {
            end = Math.Max(0, text.Length - StreamHoldBackCharacters);
            while (end > released.Length && !char.IsWhiteSpace(text[end - 1]))
                end--;
        }
        return end > released.Length ? text[released.Length..end] : "";
    }

    private static GuardrailOutcome AssessOutput(GuardrailPolicies policies, List<GuardrailTextUnit> context, string text, TraceBuilder trace)
    {
        var o = Assess(policies, GuardrailSource.Output, [.. context, new GuardrailTextUnit(text)], trace.Full);
        lock (trace)
            trace.Outputs.Add(o);
        return o;
    }

    private static GuardrailOutcome Assess(GuardrailPolicies policies, GuardrailSource source, IReadOnlyList<GuardrailTextUnit> units, bool full)
    {
        try
        {
            return GuardrailEngine.Apply(policies, source, units, full);
        }
        catch (ArgumentException e)
        {
            throw BasaltException.Validation("guardrailConfig: " + e.Message);
        }
    }

    /// <summary>What the input guardrail assesses: the guardContent blocks (of the messages and the system prompt) when there
    /// are any, else every text block of the user's messages; with where each came from (message -1 is the system prompt).</summary>
    internal static (List<GuardrailTextUnit> Units, List<(int Message, int Block)> Refs) InputUnits(ConverseRequest request)
    {
        var guarded = new List<GuardrailTextUnit>();
        var refs = new List<(int, int)>();
        for (var b = 0; b < request.System.Count; b++)
            if (request.System[b] is GuardContentBlock g)
            {
                guarded.Add(Unit(g));
                refs.Add((-1, b));
            }
        for (var m = 0; m < request.Messages.Count; m++)
            for (var b = 0; b < request.Messages[m].Content.Count; b++)
                if (request.Messages[m].Content[b] is GuardContentBlock g)
                {
                    guarded.Add(Unit(g));
                    refs.Add((m, b));
                }
        if (guarded.Count > 0)
            return (guarded, refs);
        for (var m = 0; m < request.Messages.Count; m++)
            if (request.Messages[m].Role == ConversationRole.User)
                for (var b = 0; b < request.Messages[m].Content.Count; b++)
                    if (request.Messages[m].Content[b] is TextBlock t)
                    {
                        guarded.Add(new GuardrailTextUnit(t.Text));
                        refs.Add((m, b));
                    }
        return (guarded, refs);
    }

    /// <summary>The grounding source and query units of the input, which the output check needs as context.</summary>
    private static List<GuardrailTextUnit> ContextUnits(List<GuardrailTextUnit> input)
    {
        var context = new List<GuardrailTextUnit>();
        foreach (var u in input)
            if (u.Qualifiers is { } q && !q.Contains("guard_content") && (q.Contains("grounding_source") || q.Contains("query")))
                context.Add(u);
        return context;
    }

    /// <summary>A copy of the request whose assessed blocks carry the anonymized texts (the model never sees the
    /// anonymized matches); context units (grounding source, query) are not among <paramref name="outputs"/>.</summary>
    private static ConverseRequest Anonymize(ConverseRequest request, List<(int Message, int Block)> refs, IReadOnlyList<string> outputs)
    {
        var system = request.System.ToArray();
        var messages = request.Messages.Select(m => m.Content.ToArray()).ToArray();
        var k = 0;
        foreach (var (m, b) in refs)
        {
            var block = m < 0 ? system[b] : messages[m][b];
            if (block is GuardContentBlock g && g.Qualifiers is { Count: > 0 } q && !q.Contains("guard_content") && (q.Contains("grounding_source") || q.Contains("query")))
                continue;
            if (k >= outputs.Count)
                break;
            ContentBlock replaced = block is GuardContentBlock gc ? gc with { Text = outputs[k] } : new TextBlock(outputs[k]);
            k++;
            if (m < 0)
                system[b] = replaced;
            else
                messages[m][b] = replaced;
        }
        return request with
        {
            System = system,
            Messages = request.Messages.Select((msg, i) => msg with { Content = messages[i] }).ToArray(),
        };
    }

    private static GuardrailTextUnit Unit(GuardContentBlock g)
        => new(g.Text, g.Qualifiers is { Count: > 0 } q ? new HashSet<string>(q, StringComparer.Ordinal) : null);

    private static string OutputText(Message m)
    {
        var sb = new StringBuilder();
        foreach (var b in m.Content)
            if (b is TextBlock t)
                sb.Append(t.Text);
        return sb.ToString();
    }

    private static ConverseResponse Intervened(string message, TokenUsage usage, long started, TraceBuilder trace) => new()
    {
        Output = new Message(ConversationRole.Assistant, [new TextBlock(message)]),
        StopReason = StopReason.GuardrailIntervened,
        Usage = usage,
        LatencyMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        Trace = trace.Build(),
    };

    private static IEnumerable<ConverseStreamEvent> InterventionEvents(int index, string message, TokenUsage usage, long started, TraceBuilder trace, bool startMessage)
    {
        if (startMessage)
            yield return new MessageStartEvent(ConversationRole.Assistant);
        yield return new ContentBlockDeltaEvent(index, new TextDelta(message));
        yield return new ContentBlockStopEvent(index);
        yield return new MessageStopEvent(StopReason.GuardrailIntervened);
        yield return new MetadataEvent(usage, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, trace.Build());
    }

    /// <summary>Bedrock's trace.guardrail: inputAssessment and outputAssessments keyed by guardrail id, modelOutput when the
    /// output was blocked, and the action reason.</summary>
    private sealed class TraceBuilder(string id, string? mode)
    {
        public bool Enabled { get; } = mode is "enabled" or "enabled_full";
        public bool Full { get; } = mode == "enabled_full";
        public GuardrailOutcome? Input { get; set; }
        public List<GuardrailOutcome> Outputs { get; } = [];
        public string? ModelOutput { get; set; }

        public JsonElement? Build()
        {
            if (!Enabled)
                return null;
            var buffer = new ArrayBufferWriter<byte>(512);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteStartObject("guardrail");
                if (ModelOutput is not null)
                {
                    w.WriteStartArray("modelOutput");
                    w.WriteStringValue(ModelOutput);
                    w.WriteEndArray();
                }
                if (Input is not null)
                {
                    w.WriteStartObject("inputAssessment");
                    w.WritePropertyName(id);
                    GuardrailAssessmentJson.WriteAssessment(w, Input.Assessment);
                    w.WriteEndObject();
                }
                GuardrailOutcome[] outputs;
                lock (this)
                    outputs = [.. Outputs];
                if (outputs.Length > 0)
                {
                    w.WriteStartObject("outputAssessments");
                    w.WriteStartArray(id);
                    foreach (var o in outputs)
                        GuardrailAssessmentJson.WriteAssessment(w, o.Assessment);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                var reason = outputs.LastOrDefault(o => o.Intervened)?.ActionReason ?? (Input is { Intervened: true } i ? i.ActionReason : null);
                if (reason is not null)
                    w.WriteString("actionReason", reason);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            using var doc = JsonDocument.Parse(buffer.WrittenMemory);
            return doc.RootElement.Clone();
        }
    }
}

/// <summary>Builder extension for <see cref="GuardrailConverseClient"/>.</summary>
internal static class GuardrailBuilderExtensions
{
    /// <summary>Applies each request's guardrailConfig around the model call.</summary>
    public static ConverseClientBuilder UseGuardrails(this ConverseClientBuilder builder, GuardrailRegistry registry)
        => builder.Use(inner => new GuardrailConverseClient(inner, registry));
}
