using Basalt.Guardrails.Words;

namespace Basalt.Guardrails.Tests.Words;

public sealed class WordPolicyTests
{
    private static readonly WordPolicy Profanity = new(new WordPolicyConfig([], [new ManagedWordListConfig("PROFANITY")]));

    private static readonly WordPolicy Custom = new(new WordPolicyConfig(
        [new WordConfig("stock tips"), new WordConfig("Contoso", OutputAction: PolicyAction.None), new WordConfig("secret project", InputEnabled: false)],
        []));

    [Theory]
    [InlineData("what the fuck is this", "fuck")]
    [InlineData("what the FUCK is this", "FUCK")]
    [InlineData("you are a sh!t", "sh!t")]
    [InlineData("you are a 5h1t person", "5h1t")]
    [InlineData("what a b!tch", "b!tch")]
    [InlineData("you @sshole", "@sshole")]
    [InlineData("f**k that", "f**k")]
    [InlineData("this is s h i t really", "s h i t")]
    [InlineData("this is s.h.i.t really", "s.h.i.t")]
    [InlineData("this is s-h-i-t", "s-h-i-t")]
    [InlineData("you are a s h i t", "s h i t")]
    [InlineData("shiiiiit happens", "shiiiiit")]
    [InlineData("ｆｕｃｋ ｙｏｕ", "ｆｕｃｋ")]
    [InlineData("what the fυck", "fυck")] // Greek upsilon
    [InlineData("you аsshole", "аsshole")] // Cyrillic a
    [InlineData("he's a total dicks", "dicks")]
    [InlineData("f\u200Buck off", "f\u200Buck")]
    [InlineData("sh.it happens", "sh.it")]
    public void Assess_ObfuscatedProfanity_FindsOriginalMatch(string text, string expected)
    {
        IReadOnlyList<WordFinding> findings = Profanity.Assess(text, GuardrailSource.Input);

        WordFinding finding = Assert.Single(findings);
        Assert.Equal(expected, finding.Match);
        Assert.Equal(expected, text.Substring(finding.Span.Start, finding.Span.Length));
        Assert.Equal("PROFANITY", finding.ManagedType);
        Assert.Equal(PolicyAction.Blocked, finding.Action);
        Assert.True(finding.Detected);
    }

    [Theory]
    [InlineData("I was born in Scunthorpe.")]
    [InlineData("We need to assess the class of passengers.")]
    [InlineData("The cockpit of the shuttlecock; Dickens wrote it.")]
    [InlineData("Sussex, Essex and Middlesex are counties; the bass section is classic.")]
    [InlineData("Call 1-800-555-0100 for $100 off, version 3.5.")]
    [InlineData("A s s e m b l y is spelled out here.")]
    [InlineData("hello! shell, shiitake mushrooms and a hit.")]
    public void Assess_CleanTextWithEmbeddedSubstrings_FindsNothing(string text)
    {
        Assert.Empty(Profanity.Assess(text, GuardrailSource.Output));
    }

    [Fact]
    public void Assess_CustomPhraseAcrossSpacingAndCase_FindsPhrase()
    {
        WordFinding finding = Assert.Single(Custom.Assess("Any STOCK   Tips for me?", GuardrailSource.Input));

        Assert.Equal("STOCK   Tips", finding.Match);
        Assert.Null(finding.ManagedType);
        Assert.Equal(PolicyAction.Blocked, finding.Action);
    }

    [Fact]
    public void Assess_CustomWordWithNoneOutputAction_DetectsWithoutBlocking()
    {
        WordFinding finding = Assert.Single(Custom.Assess("Contoso makes widgets", GuardrailSource.Output));

        Assert.Equal(PolicyAction.None, finding.Action);
        Assert.True(finding.Detected);
    }

    [Fact]
    public void Assess_CustomWordDisabledForInput_IsNotReportedForInputButIsForOutput()
    {
        Assert.Empty(Custom.Assess("the secret project", GuardrailSource.Input));
        Assert.Single(Custom.Assess("the secret project", GuardrailSource.Output));
    }

    [Fact]
    public void Assess_WordInsideLongerWord_DoesNotMatch()
    {
        Assert.Empty(Custom.Assess("Contosoville and stocktipsy", GuardrailSource.Input));
    }

    [Fact]
    public void Assess_ManagedListDisabledForOutput_FindsNothingOnOutput()
    {
        var policy = new WordPolicy(new WordPolicyConfig([], [new ManagedWordListConfig("PROFANITY", OutputEnabled: false)]));

        Assert.Empty(policy.Assess("fuck", GuardrailSource.Output));
        Assert.Single(policy.Assess("fuck", GuardrailSource.Input));
    }

    [Fact]
    public void Assess_SeveralMatches_ReportsEachInTextOrder()
    {
        IReadOnlyList<WordFinding> findings = Profanity.Assess("shit, then fuck, then shit again", GuardrailSource.Input);

        Assert.Equal(["shit", "fuck", "shit"], findings.Select(f => f.Match));
        Assert.True(findings[0].Span.Start < findings[1].Span.Start);
    }

    [Fact]
    public void Assess_HugeAndInvalidText_DoesNotThrow()
    {
        string huge = string.Concat(Enumerable.Repeat("a s s e s s m e n t \ud800 \udc00 ｆ ", 5_000));

        IReadOnlyList<WordFinding> findings = Profanity.Assess(huge, GuardrailSource.Input);

        Assert.True(findings.Count <= WordPolicy.MaxFindings);
        Assert.Empty(Profanity.Assess("\ud800\ud800\udc00\udc00", GuardrailSource.Input));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("!!!")]
    public void Constructor_WordWithoutLetters_Throws(string text)
    {
        Assert.Throws<ArgumentException>(() => new WordPolicy(new WordPolicyConfig([new WordConfig(text)], [])));
    }

    [Fact]
    public void Constructor_UnknownManagedList_ThrowsNamingTheType()
    {
        var e = Assert.Throws<ArgumentException>(() => new WordPolicy(new WordPolicyConfig([], [new ManagedWordListConfig("SLANG")])));
        Assert.Contains("SLANG", e.Message);
    }

    [Fact]
    public void Constructor_AnonymizeAction_Throws()
    {
        Assert.Throws<ArgumentException>(() => new WordPolicy(new WordPolicyConfig([new WordConfig("x1", InputAction: PolicyAction.Anonymized)], [])));
    }

    [Fact]
    public void ProfanityListSize_EmbeddedList_HasOverAThousandWords()
    {
        Assert.True(WordPolicy.ProfanityListSize > 1000);
    }
}
