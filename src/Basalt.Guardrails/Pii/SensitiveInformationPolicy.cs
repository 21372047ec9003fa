using System.Text;
using System.Text.RegularExpressions;

namespace Basalt.Guardrails.Pii;

/// <summary>Bedrock's sensitive information filters: the PII entity types of <see cref="PiiEntityTypes.All"/> and custom
/// regexes, each BLOCK, ANONYMIZE ({TYPE} placeholders) or NONE (detect only). Detection reads JSON-escaped and
/// full-width text too (<see cref="PiiText"/>); overlapping detections keep the most specific type (a card number is
/// not also a phone). Built once, immutable, thread-safe.</summary>
public sealed class SensitiveInformationPolicy
{
    /// <summary>How long one custom regex that needs backtracking (backreferences, lookarounds) may run on one text
    /// before it is abandoned (matches found until then stand).</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest custom regex pattern (Bedrock's limit).</summary>
    public const int MaxPatternLength = 500;

    /// <summary>Most findings one assessment reports per list.</summary>
    public const int MaxFindings = 500;

    private readonly Dictionary<string, PiiEntityConfig> _entities = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inputTypes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _outputTypes = new(StringComparer.Ordinal);
    private readonly (RegexConfig Config, Regex Regex)[] _regexes;

    /// <summary>Builds the policy; throws <see cref="ArgumentException"/> with a message for the user when the config is invalid.</summary>
    public SensitiveInformationPolicy(IReadOnlyList<PiiEntityConfig> entities, IReadOnlyList<RegexConfig> regexes)
    {
        foreach (PiiEntityConfig entity in entities ?? [])
        {
            if (entity is null || !PiiEntityTypes.All.Contains(entity.Type))
                throw new ArgumentException($"Unknown PII entity type '{entity?.Type}'; valid types are {string.Join(", ", PiiEntityTypes.All)}.");
            if (!_entities.TryAdd(entity.Type, entity))
                throw new ArgumentException($"The PII entity type {entity.Type} is configured twice.");
            if (entity.InputEnabled)
                _inputTypes.Add(entity.Type);
            if (entity.OutputEnabled)
                _outputTypes.Add(entity.Type);
        }

        var compiled = new List<(RegexConfig, Regex)>();
        foreach (RegexConfig config in regexes ?? [])
        {
            if (config is null || string.IsNullOrWhiteSpace(config.Name))
                throw new ArgumentException("A sensitive information regex needs a name (it becomes the {name} placeholder).");
            if (string.IsNullOrEmpty(config.Pattern) || config.Pattern.Length > MaxPatternLength)
                throw new ArgumentException($"The regex '{config.Name}' needs a pattern of 1 to {MaxPatternLength} characters.");
            compiled.Add((config, Compile(config)));
        }
        _regexes = compiled.ToArray();
    }

    private static Regex Compile(RegexConfig config)
    {
        // Linear-time matching where the pattern allows it (no backreferences or lookarounds); else backtracking with a timeout.
        try
        {
            // Linear time needs no timeout; a timeout here only skipped matches on a loaded machine (first DFA build).
            return new Regex(config.Pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, Regex.InfiniteMatchTimeout);
        }
        catch (NotSupportedException)
        {
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The regex '{config.Name}' is not a valid pattern: {e.Message}");
        }
        try
        {
            return new Regex(config.Pattern, RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The regex '{config.Name}' is not a valid pattern: {e.Message}");
        }
    }

    /// <summary>Finds PII and regex matches in <paramref name="text"/>. Never throws on any string.</summary>
    public SensitiveInformationResult Assess(string text, GuardrailSource source)
    {
        if (string.IsNullOrEmpty(text))
            return SensitiveInformationResult.Empty;
        HashSet<string> wanted = source == GuardrailSource.Input ? _inputTypes : _outputTypes;

        var pii = new List<PiiFinding>();
        if (wanted.Count > 0)
        {
            PiiText view = PiiText.Of(text);
            var candidates = new List<PiiCandidate>();
            PiiDetectors.Detect(view.Text, wanted, candidates);
            foreach (PiiCandidate c in ResolveOverlaps(candidates, view.Text.Length))
            {
                if (pii.Count == MaxFindings)
                    break;
                PiiEntityConfig config = _entities[c.Type];
                TextSpan span = view.ToOriginal(c.Start, c.Length);
                PolicyAction action = (source == GuardrailSource.Input ? config.InputAction : config.OutputAction) ?? config.Action;
                pii.Add(new PiiFinding(c.Type, text.Substring(span.Start, span.Length), span, action, true));
            }
        }

        var regexFindings = new List<RegexFinding>();
        foreach ((RegexConfig config, Regex regex) in _regexes)
        {
            if (!(source == GuardrailSource.Input ? config.InputEnabled : config.OutputEnabled))
                continue;
            PolicyAction action = (source == GuardrailSource.Input ? config.InputAction : config.OutputAction) ?? config.Action;
            try
            {
                for (Match m = regex.Match(text); m.Success && regexFindings.Count < MaxFindings; m = m.NextMatch())
                {
                    if (m.Length > 0)
                        regexFindings.Add(new RegexFinding(config.Name, config.Pattern, m.Value, new TextSpan(m.Index, m.Length), action, true));
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological pattern on this text: the matches found before the timeout stand, the rest are not assessed.
            }
        }

        if (pii.Count == 0 && regexFindings.Count == 0)
            return SensitiveInformationResult.Empty;
        return new SensitiveInformationResult(pii, regexFindings, Anonymize(text, pii, regexFindings));
    }

    // Keeps the most specific of overlapping detections: higher priority first, then the longer one. Claimed characters
    // are marked in a bitmap, so resolving n candidates costs their total length, not n².
    private static List<PiiCandidate> ResolveOverlaps(List<PiiCandidate> candidates, int textLength)
    {
        candidates.Sort((a, b) => a.Priority != b.Priority ? b.Priority.CompareTo(a.Priority) : b.Length.CompareTo(a.Length));
        var claimed = new System.Collections.BitArray(textLength + 1);
        var kept = new List<PiiCandidate>(candidates.Count);
        foreach (PiiCandidate c in candidates)
        {
            if (c.Length <= 0 || c.End > textLength)
                continue;
            bool overlaps = false;
            for (int k = c.Start; k < c.End && !overlaps; k++)
                overlaps = claimed[k];
            if (overlaps)
                continue;
            for (int k = c.Start; k < c.End; k++)
                claimed[k] = true;
            kept.Add(c);
        }
        kept.Sort((a, b) => a.Start.CompareTo(b.Start));
        return kept;
    }

    private static string? Anonymize(string text, List<PiiFinding> pii, List<RegexFinding> regexes)
    {
        var spans = new List<(TextSpan Span, string Placeholder)>();
        foreach (PiiFinding f in pii)
        {
            if (f.Action == PolicyAction.Anonymized)
                spans.Add((f.Span, "{" + f.Type + "}"));
        }
        foreach (RegexFinding f in regexes)
        {
            if (f.Action == PolicyAction.Anonymized)
                spans.Add((f.Span, "{" + f.Name + "}"));
        }
        if (spans.Count == 0)
            return null;
        spans.Sort((a, b) => a.Span.Start != b.Span.Start ? a.Span.Start.CompareTo(b.Span.Start) : b.Span.Length.CompareTo(a.Span.Length));
        var sb = new StringBuilder(text.Length);
        int at = 0;
        foreach ((TextSpan span, string placeholder) in spans)
        {
            if (span.Start < at)
                continue; // inside a span already replaced
            sb.Append(text, at, span.Start - at).Append(placeholder);
            at = span.End;
        }
        sb.Append(text, at, text.Length - at);
        return sb.ToString();
    }
}
