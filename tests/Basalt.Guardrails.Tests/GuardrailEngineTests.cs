using Basalt.Guardrails.Resources;

namespace Basalt.Guardrails.Tests;

public sealed class GuardrailEngineTests
{
    private static GuardrailSpec Spec(PolicyAction emailAction = PolicyAction.Anonymized) => new()
    {
        Name = "engine-test",
        BlockedInputMessaging = "no input",
        BlockedOutputsMessaging = "no output",
        WordPolicy = new WordPolicySpec([new WordSpec("forbidden phrase", PolicyAction.Blocked, PolicyAction.None, true, true)], []),
        SensitiveInformationPolicy = new SensitiveInformationPolicySpec(
            [new PiiEntitySpec("EMAIL", emailAction, emailAction, emailAction, true, true)],
            [new RegexSpec("ticket", null, "TCK-[0-9]{4}", PolicyAction.None, PolicyAction.None, PolicyAction.None, true, true)]),
    };

    [Fact]
    public void Apply_AnonymizedEmail_OneOutputPerUnitInOrder()
    {
        var policies = GuardrailPolicies.Build(Spec());
        var o = GuardrailEngine.Apply(policies, GuardrailSource.Input,
            [new GuardrailTextUnit("first a@b.io"), new GuardrailTextUnit("second, clean"), new GuardrailTextUnit("third c@d.io")]);
        Assert.True(o.Intervened);
        Assert.False(o.Blocked);
        Assert.Equal(["first {EMAIL}", "second, clean", "third {EMAIL}"], o.Outputs);
        Assert.Equal(2, o.Assessment.PiiEntities.Count);
    }

    [Fact]
    public void Apply_WordBlockedOnInputOnly_OutputPassesWithNoneAction()
    {
        var policies = GuardrailPolicies.Build(Spec());
        var input = GuardrailEngine.Apply(policies, GuardrailSource.Input, [new GuardrailTextUnit("say the forbidden phrase")]);
        Assert.True(input.Blocked);
        Assert.Equal(["no input"], input.Outputs);
        var output = GuardrailEngine.Apply(policies, GuardrailSource.Output, [new GuardrailTextUnit("say the forbidden phrase")], full: true);
        Assert.False(output.Intervened);
        Assert.Empty(output.Outputs);
        Assert.Equal(PolicyAction.None, Assert.Single(output.Assessment.CustomWords).Action);
    }

    [Fact]
    public void Apply_InterventionsScope_OmitsFindingsThatDidNotAct()
    {
        var policies = GuardrailPolicies.Build(Spec());
        var text = new GuardrailTextUnit("ticket TCK-1234 for a@b.io");
        var interventions = GuardrailEngine.Apply(policies, GuardrailSource.Input, [text], full: false);
        var full = GuardrailEngine.Apply(policies, GuardrailSource.Input, [text], full: true);
        Assert.Empty(interventions.Assessment.Regexes);
        Assert.Equal("TCK-1234", Assert.Single(full.Assessment.Regexes).Match);
        Assert.Single(interventions.Assessment.PiiEntities);
    }

    [Fact]
    public void Apply_Usage_OneUnitPerStartedThousandCharactersPerPolicyAndUnit()
    {
        var policies = GuardrailPolicies.Build(Spec());
        var o = GuardrailEngine.Apply(policies, GuardrailSource.Output,
            [new GuardrailTextUnit(new string('x', 1000)), new GuardrailTextUnit(new string('y', 1001))]);
        Assert.Equal(3, o.Assessment.Usage.WordPolicyUnits);
        Assert.Equal(3, o.Assessment.Usage.SensitiveInformationPolicyUnits);
        Assert.Equal(0, o.Assessment.Usage.SensitiveInformationPolicyFreeUnits);
        Assert.Equal(0, o.Assessment.Usage.ContentPolicyUnits);
        Assert.Equal(2001, o.Assessment.GuardedCharacters);
    }

    [Fact]
    public void Apply_RegexOnlyPolicy_CountsFreeUnits()
    {
        var spec = Spec() with { SensitiveInformationPolicy = new SensitiveInformationPolicySpec([], [new RegexSpec("t", null, "T-[0-9]+", PolicyAction.Blocked, PolicyAction.Blocked, PolicyAction.Blocked, true, true)]) };
        var o = GuardrailEngine.Apply(GuardrailPolicies.Build(spec), GuardrailSource.Input, [new GuardrailTextUnit("hello")]);
        Assert.Equal(1, o.Assessment.Usage.SensitiveInformationPolicyFreeUnits);
        Assert.Equal(0, o.Assessment.Usage.SensitiveInformationPolicyUnits);
    }

    [Fact]
    public void Apply_ContextUnits_NotAssessedButCountedInTotal()
    {
        var policies = GuardrailPolicies.Build(Spec());
        var o = GuardrailEngine.Apply(policies, GuardrailSource.Output,
            [new GuardrailTextUnit("source mentions a@b.io", new HashSet<string> { "grounding_source" }), new GuardrailTextUnit("answer")]);
        Assert.False(o.Intervened);
        Assert.Equal(6, o.Assessment.GuardedCharacters);
        Assert.Equal(28, o.Assessment.TotalCharacters);
    }

    [Fact]
    public void Apply_OverLimit_ArgumentExceptionNamesLimit()
    {
        var policies = GuardrailPolicies.Build(Spec());
        var e = Assert.Throws<ArgumentException>(() => GuardrailEngine.Apply(policies, GuardrailSource.Input,
            [new GuardrailTextUnit(new string('a', GuardrailEngine.MaxTextCharacters)), new GuardrailTextUnit("b")]));
        Assert.Contains(GuardrailEngine.MaxTextCharacters.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Fact]
    public void PoliciesFor_SameVersionAndTime_BuiltOnceNewTimeRebuilt()
    {
        var engine = new GuardrailEngine();
        var builds = 0;
        var t = DateTimeOffset.UnixEpoch;
        GuardrailSpec Build()
        {
            builds++;
            return Spec();
        }
        var a = engine.PoliciesFor("g", 1, t, Build);
        var b = engine.PoliciesFor("g", 1, t, Build);
        Assert.Same(a, b);
        Assert.Equal(1, builds);
        var c = engine.PoliciesFor("g", 0, t.AddSeconds(1), Build);
        Assert.NotSame(a, c);
        engine.Forget("g");
        engine.PoliciesFor("g", 1, t, Build);
        Assert.Equal(3, builds);
    }

    [Fact]
    public void Build_InvalidPolicyConfig_ArgumentException()
    {
        var spec = Spec() with { SensitiveInformationPolicy = new SensitiveInformationPolicySpec([new PiiEntitySpec("NOT_A_TYPE", PolicyAction.Blocked, PolicyAction.Blocked, PolicyAction.Blocked, true, true)], []) };
        Assert.Throws<ArgumentException>(() => GuardrailPolicies.Build(spec));
    }
}
