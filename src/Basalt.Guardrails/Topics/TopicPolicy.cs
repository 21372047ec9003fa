using Basalt.Guardrails.Content;

namespace Basalt.Guardrails.Topics;

/// <summary>A guardrail's denied topics (Bedrock's topic policy): a text is on a topic when its sentence vector is close
/// enough (cosine) to the topic's definition or to one of its examples. Sentence vectors come from word vectors the
/// project trains itself (see docs/guardrails.md), so paraphrases match without sharing keywords.
/// Immutable and thread-safe.</summary>
public sealed class TopicPolicy
{
    private readonly Topic[] _topics;
    private readonly SentenceEncoder _encoder;

    /// <summary>Builds the policy; throws <see cref="ArgumentException"/> with a message for the user on a topic without a
    /// name or definition, or a repeated name.</summary>
    public TopicPolicy(IReadOnlyList<TopicConfig> topics)
        : this(topics, null)
    {
    }

    internal TopicPolicy(IReadOnlyList<TopicConfig> topics, SentenceEncoder? encoder)
    {
        ArgumentNullException.ThrowIfNull(topics);
        _encoder = encoder ?? (topics.Count > 0 ? SentenceEncoder.Embedded : null!);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var list = new List<Topic>(topics.Count);
        foreach (var config in topics)
        {
            if (string.IsNullOrWhiteSpace(config.Name)) throw new ArgumentException("A denied topic needs a name.");
            if (string.IsNullOrWhiteSpace(config.Definition)) throw new ArgumentException($"Denied topic '{config.Name}' needs a definition.");
            if (!names.Add(config.Name)) throw new ArgumentException($"Denied topic '{config.Name}' is configured more than once.");
            var anchors = new List<float[]>();
            AddAnchor(anchors, config.Definition);
            foreach (var example in config.Examples ?? [])
            {
                if (!string.IsNullOrWhiteSpace(example)) AddAnchor(anchors, example);
            }
            list.Add(new Topic(config, [.. anchors]));
        }
        _topics = [.. list];
    }

    private void AddAnchor(List<float[]> anchors, string text)
    {
        var vector = _encoder.Encode(text);
        if (vector is not null) anchors.Add(vector);
    }

    /// <summary>Assesses one text; returns a finding (Detected true, Action BLOCKED or NONE as configured) for each topic the
    /// text is on. Never throws on any string.</summary>
    public IReadOnlyList<TopicFinding> Assess(string text, GuardrailSource source)
    {
        if (_topics.Length == 0 || string.IsNullOrEmpty(text)) return [];
        var input = source == GuardrailSource.Input;
        List<TopicFinding>? findings = null;
        List<float[]>? vectors = null;
        foreach (var topic in _topics)
        {
            if (!(input ? topic.Config.InputEnabled : topic.Config.OutputEnabled)) continue;
            vectors ??= _encoder.EncodeWindows(text);
            if (Similarity(topic, vectors) < _encoder.Threshold) continue;
            var action = input ? topic.Config.InputAction : topic.Config.OutputAction;
            findings ??= [];
            findings.Add(new TopicFinding(topic.Config.Name, action == PolicyAction.Blocked ? PolicyAction.Blocked : PolicyAction.None, Detected: true));
        }
        return findings is null ? [] : findings;
    }

    /// <summary>The highest cosine between any window of the text and any anchor of the topic.</summary>
    internal static float Similarity(Topic topic, List<float[]> vectors)
    {
        var best = -1f;
        foreach (var v in vectors)
        {
            foreach (var anchor in topic.Anchors)
            {
                var cos = SentenceEncoder.Cosine(v, anchor);
                if (cos > best) best = cos;
            }
        }
        return best;
    }

    /// <summary>Scores a text against a topic built from a config; used by the trainer to calibrate the threshold.</summary>
    internal float Score(string text, int topicIndex) => Similarity(_topics[topicIndex], _encoder.EncodeWindows(text));

    internal sealed record Topic(TopicConfig Config, float[][] Anchors);
}
