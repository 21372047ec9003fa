using Basalt.Guardrails.Grounding;

namespace Basalt.Guardrails.Tests.Grounding;

public sealed class GroundingPolicyTests
{
    private const string Source =
        "The warranty covers manufacturing defects for 2 years from the date of purchase. " +
        "It does not cover accidental damage or water damage. Repairs under warranty are free of charge. " +
        "Customers must show the original receipt to make a claim.";

    private const string Query = "How long does the warranty last?";

    private static readonly GroundingPolicy Policy = new(
        [new GroundingFilterConfig("GROUNDING", 0.5), new GroundingFilterConfig("RELEVANCE", 0.5)]);

    private static (GroundingFinding Grounding, GroundingFinding Relevance) Assess(string response)
    {
        IReadOnlyList<GroundingFinding> findings = Policy.Assess(response, Source, Query);
        return (findings.Single(f => f.Type == "GROUNDING"), findings.Single(f => f.Type == "RELEVANCE"));
    }

    [Fact]
    public void Assess_SupportedAnswer_HighScoresNotDetected()
    {
        (GroundingFinding g, GroundingFinding r) = Assess("The warranty covers manufacturing defects for 2 years from purchase.");

        Assert.True(g.Score >= 0.8, $"grounding {g.Score}");
        Assert.True(r.Score >= 0.8, $"relevance {r.Score}");
        Assert.False(g.Detected);
        Assert.Equal(PolicyAction.None, g.Action);
    }

    [Fact]
    public void Assess_ChangedNumber_GroundingDetectedAndBlocked()
    {
        (GroundingFinding g, _) = Assess("The warranty covers manufacturing defects for 5 years from purchase.");

        Assert.True(g.Detected, $"grounding {g.Score}");
        Assert.Equal(PolicyAction.Blocked, g.Action);
        Assert.Equal(0.5, g.Threshold);
    }

    [Fact]
    public void Assess_FlippedNegation_GroundingDetected()
    {
        (GroundingFinding g, _) = Assess("The warranty covers accidental damage and water damage.");

        Assert.True(g.Detected, $"grounding {g.Score}");
    }

    [Fact]
    public void Assess_OneInventedClaimBesideASupportedOne_ScoresBelowTheSupportedAnswer()
    {
        double supported = Assess("The warranty lasts 2 years from the date of purchase.").Grounding.Score;
        double partial = Assess("The warranty lasts 2 years from the date of purchase. It also includes free annual servicing at any dealer.").Grounding.Score;

        Assert.True(partial < supported - 0.2, $"partial {partial} vs supported {supported}");
    }

    [Fact]
    public void Assess_TrueButOffTopicAnswer_RelevanceDetectedGroundingNot()
    {
        (GroundingFinding g, GroundingFinding r) = Assess("Customers must show the original receipt to make a claim.");

        Assert.False(g.Detected, $"grounding {g.Score}");
        Assert.True(r.Detected, $"relevance {r.Score}");
    }

    [Fact]
    public void Assess_NoQuery_OnlyGroundingReported()
    {
        IReadOnlyList<GroundingFinding> findings = Policy.Assess("Repairs under warranty are free.", Source, null);

        Assert.Equal("GROUNDING", Assert.Single(findings).Type);
    }

    [Fact]
    public void Assess_EmptySource_GroundingScoreZero()
    {
        IReadOnlyList<GroundingFinding> findings = Policy.Assess("The warranty lasts 2 years.", "", Query);

        Assert.Equal(0, findings.Single(f => f.Type == "GROUNDING").Score);
    }

    [Fact]
    public void Assess_NoneAction_DetectedButNotBlocked()
    {
        var policy = new GroundingPolicy([new GroundingFilterConfig("GROUNDING", 0.9, PolicyAction.None)]);

        GroundingFinding finding = Assert.Single(policy.Assess("Batteries last 10 years.", Source, null));

        Assert.True(finding.Detected);
        Assert.Equal(PolicyAction.None, finding.Action);
    }

    [Fact]
    public void Assess_DisabledFilter_NotReported()
    {
        var policy = new GroundingPolicy([new GroundingFilterConfig("GROUNDING", 0.5, Enabled: false)]);

        Assert.Empty(policy.Assess("anything", Source, Query));
    }

    [Theory]
    [InlineData("SAFETY", 0.5)]
    [InlineData("GROUNDING", 1.0)]
    [InlineData("RELEVANCE", -0.1)]
    [InlineData("GROUNDING", double.NaN)]
    public void Constructor_InvalidFilter_Throws(string type, double threshold)
    {
        Assert.Throws<ArgumentException>(() => new GroundingPolicy([new GroundingFilterConfig(type, threshold)]));
    }

    [Fact]
    public void Assess_HugeAndInvalidText_ScoresInRangeWithoutThrowing()
    {
        string huge = string.Concat(Enumerable.Repeat("Claim \ud800 number 42, not true; 中文. ", 20_000));

        IReadOnlyList<GroundingFinding> findings = Policy.Assess(huge, huge[..5000], "\udc00?");

        Assert.All(findings, f => Assert.InRange(f.Score, 0, 1));
    }

    [Theory]
    [InlineData("refunds", "refunded")]
    [InlineData("employees", "employee")]
    [InlineData("carried", "carry")]
    [InlineData("completed", "completion")]
    public void Stem_Inflections_ShareAStem(string a, string b)
    {
        Assert.Equal(GroundingScorer.Stem(a), GroundingScorer.Stem(b));
    }
}
