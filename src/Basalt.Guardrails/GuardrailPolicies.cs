using Basalt.Guardrails.Content;
using Basalt.Guardrails.Grounding;
using Basalt.Guardrails.Pii;
using Basalt.Guardrails.Words;
using Basalt.Guardrails.Resources;
using Basalt.Guardrails.Topics;

namespace Basalt.Guardrails;

/// <summary>The built policies of one guardrail version, with its blocked messaging. Immutable and thread-safe: built once
/// per version by <see cref="GuardrailEngine"/> and shared by every request.</summary>
public sealed class GuardrailPolicies
{
    private GuardrailPolicies(GuardrailSpec spec) => Spec = spec;

    /// <summary>The configuration the policies were built from.</summary>
    public GuardrailSpec Spec { get; }

    /// <summary>Content filters, or null.</summary>
    public ContentPolicy? Content { get; private init; }

    /// <summary>Denied topics, or null.</summary>
    public TopicPolicy? Topics { get; private init; }

    /// <summary>Word filters, or null.</summary>
    public WordPolicy? Words { get; private init; }

    /// <summary>PII entities and regexes, or null.</summary>
    public SensitiveInformationPolicy? SensitiveInformation { get; private init; }

    /// <summary>True when the sensitive-information policy has PII entities (billed units); regex-only policies count free units.</summary>
    public bool HasPiiEntities { get; private init; }

    /// <summary>Contextual grounding filters, or null.</summary>
    public GroundingPolicy? Grounding { get; private init; }

    /// <summary>Builds every configured policy; throws <see cref="ArgumentException"/> with a message for the user when a
    /// policy refuses its configuration.</summary>
    public static GuardrailPolicies Build(GuardrailSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new GuardrailPolicies(spec)
        {
            Content = spec.ContentPolicy is { Filters.Count: > 0 } cp
                ? new ContentPolicy(cp.Filters.Select(f => new ContentFilterConfig(f.Type, f.InputStrength, f.OutputStrength,
                    f.InputAction, f.OutputAction, f.InputEnabled, f.OutputEnabled)).ToList())
                : null,
            Topics = spec.TopicPolicy is { Topics.Count: > 0 } tp
                ? new TopicPolicy(tp.Topics.Select(t => new TopicConfig(t.Name, t.Definition, t.Examples,
                    t.InputAction, t.OutputAction, t.InputEnabled, t.OutputEnabled)).ToList())
                : null,
            Words = spec.WordPolicy is { } wp && (wp.Words.Count > 0 || wp.ManagedWordLists.Count > 0)
                ? new WordPolicy(new WordPolicyConfig(
                    wp.Words.Select(w => new WordConfig(w.Text, w.InputAction, w.OutputAction, w.InputEnabled, w.OutputEnabled)).ToList(),
                    wp.ManagedWordLists.Select(m => new ManagedWordListConfig(m.Type, m.InputAction, m.OutputAction, m.InputEnabled, m.OutputEnabled)).ToList()))
                : null,
            SensitiveInformation = spec.SensitiveInformationPolicy is { } sp && (sp.PiiEntities.Count > 0 || sp.Regexes.Count > 0)
                ? new SensitiveInformationPolicy(
                    sp.PiiEntities.Select(e => new PiiEntityConfig(e.Type, e.Action, e.InputAction, e.OutputAction, e.InputEnabled, e.OutputEnabled)).ToList(),
                    sp.Regexes.Select(r => new RegexConfig(r.Name, r.Pattern, r.Description, r.Action, r.InputAction, r.OutputAction, r.InputEnabled, r.OutputEnabled)).ToList())
                : null,
            HasPiiEntities = spec.SensitiveInformationPolicy is { PiiEntities.Count: > 0 },
            Grounding = spec.ContextualGroundingPolicy is { Filters.Count: > 0 } gp
                ? new GroundingPolicy(gp.Filters.Select(f => new GroundingFilterConfig(f.Type, f.Threshold, f.Action, f.Enabled)).ToList())
                : null,
        };
    }
}
