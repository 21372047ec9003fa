using System.Collections.Concurrent;
using System.Diagnostics;
using Basalt.Guardrails.Content;
using Basalt.Guardrails.Grounding;
using Basalt.Guardrails.Pii;
using Basalt.Guardrails.Words;
using Basalt.Guardrails.Resources;
using Basalt.Guardrails.Topics;

namespace Basalt.Guardrails;

/// <summary>Runs a guardrail version's policies over text units and composes Bedrock's outcome: the action, the outputs
/// (blocked messaging or anonymized text), the assessment, usage units, coverage and latency. Builds the policies of
/// each version once and keeps them (numbered versions never change; a DRAFT is rebuilt when its update time changes).
/// Thread-safe.</summary>
public sealed class GuardrailEngine
{
    /// <summary>Longest text, in UTF-16 code units, one application assesses in total; longer input is refused with a
    /// message rather than assessed slowly (Bedrock's own limit on ApplyGuardrail text is far lower per request).</summary>
    public const int MaxTextCharacters = 1_000_000;

    /// <summary>Characters per usage unit (Bedrock: 1 text unit per 1,000 characters, per policy).</summary>
    public const int CharactersPerUnit = 1000;

    /// <summary>Versions kept built at once; past this the cache starts over (rebuilding is cheap next to a model call).</summary>
    private const int CacheCapacity = 512;

    private readonly ConcurrentDictionary<(string Id, int Version), CachedPolicies> _cache = new();

    /// <summary>The built policies of one version, from the cache when <paramref name="updatedAt"/> matches.</summary>
    public GuardrailPolicies PoliciesFor(string id, int version, DateTimeOffset updatedAt, Func<GuardrailSpec> spec)
    {
        if (_cache.TryGetValue((id, version), out var hit) && hit.UpdatedAt == updatedAt)
            return hit.Policies;
        var built = GuardrailPolicies.Build(spec());
        if (_cache.Count >= CacheCapacity)
            _cache.Clear();
        _cache[(id, version)] = new CachedPolicies(built, updatedAt);
        return built;
    }

    /// <summary>Forgets a guardrail's built versions (after a delete).</summary>
    public void Forget(string id)
    {
        foreach (var key in _cache.Keys)
            if (key.Id == id)
                _cache.TryRemove(key, out _);
    }

    /// <summary>Applies the policies to <paramref name="units"/>. Units qualified grounding_source or query are context for
    /// the grounding check, not assessed by the other policies; with <paramref name="full"/> false (outputScope
    /// INTERVENTIONS) the assessment keeps only findings that acted. Never throws on any text; refuses more than
    /// <see cref="MaxTextCharacters"/> in total with an <see cref="ArgumentException"/>.</summary>
    public static GuardrailOutcome Apply(GuardrailPolicies policies, GuardrailSource source, IReadOnlyList<GuardrailTextUnit> units, bool full = false)
    {
        ArgumentNullException.ThrowIfNull(policies);
        ArgumentNullException.ThrowIfNull(units);
        var start = Stopwatch.GetTimestamp();
        var total = 0;
        foreach (var u in units)
            total += u.Text.Length;
        if (total > MaxTextCharacters)
            throw new ArgumentException($"The text to assess is {total} characters; a guardrail assesses at most {MaxTextCharacters} characters per call. Split the text.");

        var topics = new List<TopicFinding>();
        var content = new List<ContentFilterFinding>();
        var customWords = new List<WordFinding>();
        var managedWords = new List<WordFinding>();
        var pii = new List<PiiFinding>();
        var regexes = new List<RegexFinding>();
        var grounding = new List<GroundingFinding>();
        var anonymizedTexts = new List<string>();
        int topicUnits = 0, contentUnits = 0, wordUnits = 0, piiUnits = 0, piiFreeUnits = 0, groundingUnits = 0, guarded = 0;
        bool blocked = false, anonymized = false;
        var reasons = new List<string>();
        string? groundingSource = null, query = null;
        var response = new System.Text.StringBuilder();
        foreach (var unit in units)
        {
            if (IsContext(unit))
            {
                if (unit.Qualifiers!.Contains("grounding_source"))
                    groundingSource = groundingSource is null ? unit.Text : groundingSource + "\n" + unit.Text;
                else
                    query = query is null ? unit.Text : query + "\n" + unit.Text;
                continue;
            }
            var text = unit.Text;
            guarded += text.Length;
            if (response.Length > 0)
                response.Append('\n');
            response.Append(text);
            var textUnits = Units(text);
            if (policies.Content is { } cp)
            {
                contentUnits += textUnits;
                foreach (var f in cp.Assess(text, source))
                {
                    var acted = f.Detected && f.Action == PolicyAction.Blocked;
                    blocked |= acted;
                    if (acted)
                        Reason(reasons, $"content filter {f.Type} ({GuardrailWire.Strength(f.Confidence)} confidence)");
                    if (acted || full)
                        MergeContent(content, f);
                }
            }
            if (policies.Topics is { } tp)
            {
                topicUnits += textUnits;
                foreach (var f in tp.Assess(text, source))
                {
                    var acted = f.Detected && f.Action == PolicyAction.Blocked;
                    blocked |= acted;
                    if (acted)
                        Reason(reasons, $"denied topic '{f.Name}'");
                    if ((acted || full) && !topics.Exists(t => t.Name == f.Name))
                        topics.Add(f);
                }
            }
            if (policies.Words is { } wp)
            {
                wordUnits += textUnits;
                foreach (var f in wp.Assess(text, source))
                {
                    var acted = f.Detected && f.Action == PolicyAction.Blocked;
                    blocked |= acted;
                    if (acted)
                        Reason(reasons, f.ManagedType is null ? "custom word" : $"managed word list {f.ManagedType}");
                    if (acted || full)
                        (f.ManagedType is null ? customWords : managedWords).Add(f);
                }
            }
            var unitText = text;
            if (policies.SensitiveInformation is { } sp)
            {
                if (policies.HasPiiEntities)
                    piiUnits += textUnits;
                else
                    piiFreeUnits += textUnits;
                var r = sp.Assess(text, source);
                foreach (var f in r.PiiEntities)
                {
                    var acted = f.Detected && f.Action != PolicyAction.None;
                    blocked |= f.Detected && f.Action == PolicyAction.Blocked;
                    if (acted)
                        Reason(reasons, $"sensitive information {f.Type} ({(f.Action == PolicyAction.Blocked ? "blocked" : "anonymized")})");
                    if (acted || full)
                        pii.Add(f);
                }
                foreach (var f in r.Regexes)
                {
                    var acted = f.Detected && f.Action != PolicyAction.None;
                    blocked |= f.Detected && f.Action == PolicyAction.Blocked;
                    if (acted)
                        Reason(reasons, $"regex '{f.Name}' ({(f.Action == PolicyAction.Blocked ? "blocked" : "anonymized")})");
                    if (acted || full)
                        regexes.Add(f);
                }
                if (r.AnonymizedText is { } a)
                {
                    anonymized = true;
                    unitText = a;
                }
            }
            anonymizedTexts.Add(unitText);
        }
        if (policies.Grounding is { } gp && groundingSource is not null && response.Length > 0)
        {
            var responseText = response.ToString();
            groundingUnits += Units(groundingSource) + Units(responseText) + (query is null ? 0 : Units(query));
            foreach (var f in gp.Assess(responseText, groundingSource, query))
            {
                var acted = f.Detected && f.Action == PolicyAction.Blocked;
                blocked |= acted;
                if (acted)
                    Reason(reasons, $"contextual grounding {f.Type} score {f.Score:0.00} below {f.Threshold:0.00}");
                if (acted || full)
                    grounding.Add(f);
            }
        }

        var intervened = blocked || anonymized;
        IReadOnlyList<string> outputs = blocked
            ? [source == GuardrailSource.Input ? policies.Spec.BlockedInputMessaging : policies.Spec.BlockedOutputsMessaging]
            : anonymized ? anonymizedTexts : [];
        var reason = intervened
            ? $"Guardrail {(blocked ? "blocked" : "masked")} the {(source == GuardrailSource.Input ? "input" : "output")}: {string.Join(", ", reasons)}."
            : "No action.";
        var assessment = new GuardrailAssessment
        {
            Topics = topics,
            ContentFilters = content,
            CustomWords = customWords,
            ManagedWords = managedWords,
            PiiEntities = pii,
            Regexes = regexes,
            Grounding = grounding,
            Usage = new GuardrailUsage(topicUnits, contentUnits, wordUnits, piiUnits, piiFreeUnits, groundingUnits),
            GuardedCharacters = guarded,
            TotalCharacters = total,
            LatencyMs = (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds,
        };
        return new GuardrailOutcome(intervened, blocked, reason, outputs, assessment);
    }

    /// <summary>Usage units of one text: 1 per started 1,000 characters.</summary>
    public static int Units(string text) => (text.Length + CharactersPerUnit - 1) / CharactersPerUnit;

    private static bool IsContext(GuardrailTextUnit unit)
        => unit.Qualifiers is { Count: > 0 } q && !q.Contains("guard_content") && (q.Contains("grounding_source") || q.Contains("query"));

    private static void Reason(List<string> reasons, string reason)
    {
        if (!reasons.Contains(reason))
            reasons.Add(reason);
    }

    /// <summary>One finding per content type across units: the most confident.</summary>
    private static void MergeContent(List<ContentFilterFinding> into, ContentFilterFinding f)
    {
        var i = into.FindIndex(x => x.Type == f.Type);
        if (i < 0)
            into.Add(f);
        else if (f.Confidence > into[i].Confidence || (f.Action == PolicyAction.Blocked && into[i].Action != PolicyAction.Blocked))
            into[i] = f;
    }

    private sealed record CachedPolicies(GuardrailPolicies Policies, DateTimeOffset UpdatedAt);
}
