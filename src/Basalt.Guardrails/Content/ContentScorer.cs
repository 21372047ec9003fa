namespace Basalt.Guardrails.Content;

/// <summary>Scores a raw text: normalizes away obfuscation, scores it, then scores whatever base64, hex or rot13 it
/// hides, keeping the highest probability per category.</summary>
internal static class ContentScorer
{
    public static void Score(ContentModel model, string text, Span<float> probabilities)
    {
        probabilities.Clear();
        model.ScoreMax(ObfuscationNormalizer.Normalize(text), probabilities);
        foreach (var payload in EncodedPayloads.Decode(text))
        {
            model.ScoreMax(ObfuscationNormalizer.Normalize(payload), probabilities);
        }
    }
}
