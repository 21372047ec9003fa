using Basalt.Guardrails.Content;

namespace Basalt.Guardrails.Topics;

/// <summary>A guardrail's denied topics (Bedrock's topic policy): a text is on a topic when one of its windows' sentence
/// vectors is close (cosine) to the topic's definition or to one of its examples, measured in spreads above the topic's
/// baseline similarity to ordinary sentences. Sentence vectors come from word vectors the
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
            list.Add(Baseline(config, [.. anchors]));
        }
        _topics = [.. list];
    }

    /// <summary>The topic with its baseline: mean and spread of its similarity to ordinary sentences.</summary>
    private Topic Baseline(TopicConfig config, float[][] anchors)
    {
        var topic = new Topic(config, anchors, 0, 1);
        var background = _encoder.Background;
        if (background.Length < 2 || anchors.Length == 0) return topic;
        var sum = 0.0;
        var sumSq = 0.0;
        foreach (var v in background)
        {
            var s = RawSimilarity(topic, [v]);
            sum += s;
            sumSq += s * s;
        }
        var mean = sum / background.Length;
        var std = Math.Sqrt(Math.Max(sumSq / background.Length - mean * mean, 1e-6));
        return topic with { Mean = (float)mean, Spread = (float)Math.Max(std, MinSpread) };
    }

    /// <summary>A floor on a topic's baseline spread, so a topic unlike every background sentence cannot turn tiny
    /// similarities into large scores.</summary>
    private const float MinSpread = 0.05f;

    /// <summary>Loads the shipped word vectors now (about a second; they otherwise load when the first policy with
    /// topics is built).</summary>
    public static void Preload() => _ = SentenceEncoder.Embedded;

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

    /// <summary>How far above its baseline (in baseline spreads) the text's best similarity to the topic is.</summary>
    internal static float Similarity(Topic topic, List<float[]> vectors) => (RawSimilarity(topic, vectors) - topic.Mean) / topic.Spread;

    /// <summary>The highest cosine between any window of the text and any anchor of the topic (definition or example).
    /// (Averaging the two best anchors was tried: it lost precision on the paraphrase set.)</summary>
    private static float RawSimilarity(Topic topic, List<float[]> vectors)
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

    internal sealed record Topic(TopicConfig Config, float[][] Anchors, float Mean, float Spread);
}
