using Basalt.Guardrails.Content;
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

    /// <summary>True when some policy assesses text (a guardrail with none lets everything through
    /// without a look).</summary>
    public bool HasTextPolicies => Content is not null || Topics is not null;

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
        };
    }
}
