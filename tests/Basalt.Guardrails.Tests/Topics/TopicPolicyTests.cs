using Basalt.Guardrails.Topics;

namespace Basalt.Guardrails.Tests.Topics;

public sealed class TopicPolicyTests
{
    private static readonly TopicConfig Investment = new(
        "investment-advice",
        "Recommendations on where to invest money and which stocks, funds or other assets to buy or sell for profit.",
        ["Which stocks should I buy this year?", "Is it a good time to invest in bonds?", "Should I put my retirement savings into index funds?"]);

    private static readonly TopicConfig Medical = new(
        "medical-diagnosis",
        "Diagnosing a person's illness from their symptoms or recommending a treatment, medicine or dose.",
        ["I have a headache and a fever, what disease do I have?", "How many milligrams of ibuprofen should I take?"]);

    private static readonly TopicPolicy Policy = new([Investment, Medical]);

    private static string[] Detected(string text, GuardrailSource source = GuardrailSource.Input) =>
        [.. Policy.Assess(text, source).Where(f => f.Detected).Select(f => f.Name)];

    [Fact]
    public void Assess_ExamplePhrase_Detected()
    {
        var finding = Assert.Single(Policy.Assess("Which stocks should I buy this year?", GuardrailSource.Input));
        Assert.Equal("investment-advice", finding.Name);
        Assert.Equal(PolicyAction.Blocked, finding.Action);
        Assert.True(finding.Detected);
    }

    // paraphrases from data/guardrails/topics/paraphrases.tsv: no content word shared with the definition or examples
    [Theory]
    [InlineData("investment-advice", "what shares will make me rich the fastest")]
    [InlineData("investment-advice", "tell me what to do with my savings to earn a good return")]
    [InlineData("medical-diagnosis", "my throat hurts and i keep coughing, what illness is it")]
    [InlineData("medical-diagnosis", "which antibiotic cures an ear infection")]
    public void Assess_ParaphraseWithoutSharedKeywords_Detected(string topic, string text)
    {
        Assert.Contains(topic, Detected(text));
    }

    [Theory]
    [InlineData("the soup stock needs more salt")]
    [InlineData("my grandmother saved every letter she ever received")]
    [InlineData("the hospital cafeteria opens at seven")]
    [InlineData("who invented the stethoscope")]
    [InlineData("what is the capital of australia")]
    public void Assess_NearMissOrOffTopic_NotDetected(string text)
    {
        Assert.Empty(Detected(text));
    }

    [Fact]
    public void Assess_TopicInOneSentenceOfLongText_Detected()
    {
        var filler = string.Concat(Enumerable.Repeat("The team met on Tuesday to plan the office move and the new seating chart. ", 30));
        Assert.Contains("investment-advice", Detected(filler + "Which shares should I purchase to get rich quickly? " + filler));
    }

    [Fact]
    public void Assess_OutputDisabledOrActionNone_FollowsConfig()
    {
        var policy = new TopicPolicy([Investment with { OutputEnabled = false, InputAction = PolicyAction.None }]);
        var finding = Assert.Single(policy.Assess("Which stocks should I buy this year?", GuardrailSource.Input));
        Assert.Equal(PolicyAction.None, finding.Action);
        Assert.True(finding.Detected);
        Assert.Empty(policy.Assess("Which stocks should I buy this year?", GuardrailSource.Output));
    }

    [Fact]
    public void Constructor_MissingDefinitionOrDuplicateName_ThrowsWithTopicName()
    {
        Assert.Contains("x", Assert.Throws<ArgumentException>(() => new TopicPolicy([new TopicConfig("x", " ", [])])).Message);
        Assert.Contains("more than once", Assert.Throws<ArgumentException>(() => new TopicPolicy([Investment, Investment])).Message);
    }

    [Fact]
    public void Assess_HugeInvalidAndWordlessInput_ReturnsWithoutThrowing()
    {
        Assert.Empty(Policy.Assess("", GuardrailSource.Input));
        Assert.Empty(Policy.Assess("!!! ??? 12345 \uD800", GuardrailSource.Input));
        var huge = string.Concat(Enumerable.Repeat("lorem ipsum dolor sit amet 漢字 текст ", 3_000));
        Assert.NotNull(Policy.Assess(huge, GuardrailSource.Output));
    }
}
