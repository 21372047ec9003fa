using Basalt.Guardrails.Pii;

namespace Basalt.Guardrails.Tests.Pii;

public sealed class SensitiveInformationPolicyTests
{
    private static readonly SensitiveInformationPolicy All = new(
        PiiEntityTypes.All.Select(t => new PiiEntityConfig(t, PolicyAction.Anonymized)).ToList(), []);

    private static PiiFinding Single(string text, string type)
    {
        SensitiveInformationResult result = All.Assess(text, GuardrailSource.Input);
        return Assert.Single(result.PiiEntities, f => f.Type == type);
    }

    [Theory]
    [InlineData("EMAIL", "write to maria.lopez@example.com today", "maria.lopez@example.com")]
    [InlineData("PHONE", "call (415) 555-0132 tonight", "(415) 555-0132")]
    [InlineData("PHONE", "my number is +44 20 7946 0958", "+44 20 7946 0958")]
    [InlineData("NAME", "Please ask John Smith to sign.", "John Smith")]
    [InlineData("NAME", "Dr. Okonkwo will see you now.", "Okonkwo")]
    [InlineData("ADDRESS", "Send it to 742 Evergreen Terrace, Springfield, IL 62704 asap", "742 Evergreen Terrace, Springfield, IL 62704")]
    [InlineData("US_SOCIAL_SECURITY_NUMBER", "SSN: 536-22-8819", "536-22-8819")]
    [InlineData("CREDIT_DEBIT_CARD_NUMBER", "card 4111 1111 1111 1111 exp", "4111 1111 1111 1111")]
    [InlineData("IP_ADDRESS", "from 203.0.113.9 at noon", "203.0.113.9")]
    [InlineData("IP_ADDRESS", "host 2001:db8::ff00:42:8329 up", "2001:db8::ff00:42:8329")]
    [InlineData("URL", "see https://example.com/a?b=c.", "https://example.com/a?b=c")]
    [InlineData("AWS_ACCESS_KEY", "key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE")]
    [InlineData("AWS_SECRET_KEY", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    [InlineData("US_BANK_ACCOUNT_NUMBER", "checking account 000123456789", "000123456789")]
    [InlineData("US_BANK_ROUTING_NUMBER", "routing 021000021", "021000021")]
    [InlineData("PASSWORD", "my password is Sunflower#77", "Sunflower#77")]
    [InlineData("USERNAME", "username: jsmith_88", "jsmith_88")]
    [InlineData("DRIVER_ID", "driver's license number D7713354", "D7713354")]
    [InlineData("US_PASSPORT_NUMBER", "passport no. 963545637", "963545637")]
    [InlineData("AGE", "the patient is 47 years old", "47")]
    [InlineData("PIN", "PIN: 9931", "9931")]
    [InlineData("MAC_ADDRESS", "mac 3c:22:fb:a1:00:7e", "3c:22:fb:a1:00:7e")]
    [InlineData("INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IBAN GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32")]
    [InlineData("VEHICLE_IDENTIFICATION_NUMBER", "car 1M8GDM9AXKP042788 sold", "1M8GDM9AXKP042788")]
    [InlineData("CREDIT_DEBIT_CARD_CVV", "cvv 739", "739")]
    [InlineData("CREDIT_DEBIT_CARD_EXPIRY", "expiry date: 11/28", "11/28")]
    [InlineData("UK_NATIONAL_INSURANCE_NUMBER", "NINO AB123456C", "AB123456C")]
    [InlineData("UK_NATIONAL_HEALTH_SERVICE_NUMBER", "NHS number 943 476 5919", "943 476 5919")]
    [InlineData("CA_SOCIAL_INSURANCE_NUMBER", "SIN 046 454 286", "046 454 286")]
    [InlineData("CA_HEALTH_NUMBER", "OHIP health card 1234-567-890-AB", "1234-567-890-AB")]
    [InlineData("SWIFT_CODE", "SWIFT/BIC: DEUTDEFF500", "DEUTDEFF500")]
    [InlineData("UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "my UTR is 12345 67890", "12345 67890")]
    [InlineData("US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "ITIN 912-70-1234", "912-70-1234")]
    [InlineData("LICENSE_PLATE", "license plate number 7ABC123", "7ABC123")]
    public void Assess_EachEntityType_FindsItsMatch(string type, string text, string expected)
    {
        PiiFinding finding = Single(text, type);

        Assert.Equal(expected, finding.Match);
        Assert.Equal(expected, text.Substring(finding.Span.Start, finding.Span.Length));
        Assert.True(finding.Detected);
    }

    [Fact]
    public void PiiEntityTypes_All_CoverEveryBedrockEnumValue()
    {
        // Every type of the GuardrailPiiEntityType enum is accepted and has a detector (the theory above covers each).
        Assert.Equal(31, PiiEntityTypes.All.Count);
        _ = new SensitiveInformationPolicy(PiiEntityTypes.All.Select(t => new PiiEntityConfig(t, PolicyAction.Blocked)).ToList(), []);
    }

    [Theory]
    [InlineData("card 4111 1111 1111 1112 is a typo")] // Luhn fails
    [InlineData("order 000-12-3456 shipped")] // SSN area 000
    [InlineData("invoice 666-12-3456 paid")] // SSN area 666
    [InlineData("git commit da39a3ee5e6b4b0d3255bfef95601890afd80709")]
    [InlineData("upgrade to version 1.2.3.4 now")]
    [InlineData("meeting at 10:30:45 in room 4")]
    [InlineData("routing 123456789 is not valid")] // ABA checksum fails
    [InlineData("The password is required to log in.")]
    [InlineData("Grace periods apply in May.")]
    [InlineData("I was born in Scunthorpe and assess risk.")]
    public void Assess_LookAlikes_FindNothing(string text)
    {
        Assert.Empty(All.Assess(text, GuardrailSource.Input).PiiEntities);
    }

    [Fact]
    public void Assess_Anonymize_ReplacesEachMatchWithItsTypePlaceholder()
    {
        SensitiveInformationResult result = All.Assess("Mail jane.doe@example.com or call 212-555-0187.", GuardrailSource.Output);

        Assert.Equal("Mail {EMAIL} or call {PHONE}.", result.AnonymizedText);
        Assert.All(result.PiiEntities, f => Assert.Equal(PolicyAction.Anonymized, f.Action));
    }

    [Fact]
    public void Assess_BlockAndNoneActions_ReportedWithoutAnonymizedText()
    {
        var policy = new SensitiveInformationPolicy(
            [new PiiEntityConfig("EMAIL", PolicyAction.Blocked), new PiiEntityConfig("PHONE", PolicyAction.None)], []);

        SensitiveInformationResult result = policy.Assess("a@example.com, 212-555-0187", GuardrailSource.Input);

        Assert.Null(result.AnonymizedText);
        Assert.Equal(PolicyAction.Blocked, result.PiiEntities.Single(f => f.Type == "EMAIL").Action);
        PiiFinding phone = result.PiiEntities.Single(f => f.Type == "PHONE");
        Assert.Equal(PolicyAction.None, phone.Action);
        Assert.True(phone.Detected);
    }

    [Fact]
    public void Assess_InputAndOutputActionsAndEnabledFlags_AppliedPerSource()
    {
        var policy = new SensitiveInformationPolicy(
            [new PiiEntityConfig("EMAIL", PolicyAction.Blocked, InputAction: PolicyAction.Anonymized),
             new PiiEntityConfig("PHONE", PolicyAction.Blocked, OutputEnabled: false)], []);
        const string text = "a@example.com 212-555-0187";

        SensitiveInformationResult input = policy.Assess(text, GuardrailSource.Input);
        SensitiveInformationResult output = policy.Assess(text, GuardrailSource.Output);

        Assert.Equal("{EMAIL} {PHONE}", input.AnonymizedText?.Replace("212-555-0187", "{PHONE}"));
        Assert.Equal(PolicyAction.Anonymized, input.PiiEntities.Single(f => f.Type == "EMAIL").Action);
        Assert.Equal(PolicyAction.Blocked, input.PiiEntities.Single(f => f.Type == "PHONE").Action);
        Assert.Equal(PolicyAction.Blocked, Assert.Single(output.PiiEntities).Action);
    }

    [Fact]
    public void Assess_PiiInsideEscapedJson_SpanCoversTheEscapedOriginal()
    {
        const string json = "{\"contact\":\"bob\\u0040example.com\",\"ssn\":\"536-22-8819\"}";

        SensitiveInformationResult result = All.Assess(json, GuardrailSource.Input);

        Assert.Equal("bob\\u0040example.com", result.PiiEntities.Single(f => f.Type == "EMAIL").Match);
        Assert.Equal("{\"contact\":\"{EMAIL}\",\"ssn\":\"{US_SOCIAL_SECURITY_NUMBER}\"}", result.AnonymizedText);
    }

    [Fact]
    public void Assess_CardSplitAcrossLinesAndJsonNewlineEscape_StillOneCard()
    {
        Assert.Equal("4111 1111\n1111 1111", Single("card:\n4111 1111\n1111 1111", "CREDIT_DEBIT_CARD_NUMBER").Match);
        Assert.Equal("4111-1111\\n1111-1111", Single("{\"card\":\"4111-1111\\n1111-1111\"}", "CREDIT_DEBIT_CARD_NUMBER").Match);
    }

    [Fact]
    public void Assess_CardFieldsAsJsonKeys_CvvAndExpiryFound()
    {
        SensitiveInformationResult result = All.Assess("{\"pan\":\"5500005555555559\",\"exp\":\"04/29\",\"cvv\":\"922\",\"pin\":\"4412\"}", GuardrailSource.Input);

        Assert.Equal("922", result.PiiEntities.Single(f => f.Type == "CREDIT_DEBIT_CARD_CVV").Match);
        Assert.Equal("04/29", result.PiiEntities.Single(f => f.Type == "CREDIT_DEBIT_CARD_EXPIRY").Match);
        Assert.Equal("4412", result.PiiEntities.Single(f => f.Type == "PIN").Match);
        Assert.Equal("5500005555555559", result.PiiEntities.Single(f => f.Type == "CREDIT_DEBIT_CARD_NUMBER").Match);
    }

    [Fact]
    public void Assess_FullWidthDigits_DetectedAndAnonymizedInOriginal()
    {
        SensitiveInformationResult result = All.Assess("SSN ５３６-２２-８８１９ ok", GuardrailSource.Input);

        Assert.Equal("SSN {US_SOCIAL_SECURITY_NUMBER} ok", result.AnonymizedText);
    }

    [Fact]
    public void Assess_CustomRegex_AnonymizesWithItsName()
    {
        var policy = new SensitiveInformationPolicy([], [new RegexConfig("ORDER_ID", @"ORD-\d{6}", "order ids", PolicyAction.Anonymized)]);

        SensitiveInformationResult result = policy.Assess("refund ORD-123456 and ORD-654321", GuardrailSource.Input);

        Assert.Equal(2, result.Regexes.Count);
        Assert.Equal("ORDER_ID", result.Regexes[0].Name);
        Assert.Equal(@"ORD-\d{6}", result.Regexes[0].Regex);
        Assert.Equal("refund {ORDER_ID} and {ORDER_ID}", result.AnonymizedText);
    }

    [Fact]
    public void Assess_CatastrophicCustomRegex_ReturnsWithinTimeoutInsteadOfHanging()
    {
        // Backreferences force the backtracking engine; (a+)+\1$ on a long run of a's is exponential.
        var policy = new SensitiveInformationPolicy([], [new RegexConfig("EVIL", @"^(a+)+\1b$", null, PolicyAction.Blocked)]);

        SensitiveInformationResult result = policy.Assess(new string('a', 5000), GuardrailSource.Input);

        Assert.Empty(result.Regexes);
    }

    [Fact]
    public void Constructor_InvalidRegex_ThrowsNamingTheRegex()
    {
        var e = Assert.Throws<ArgumentException>(() => new SensitiveInformationPolicy([], [new RegexConfig("BROKEN", "([a-z", null, PolicyAction.Blocked)]));
        Assert.Contains("BROKEN", e.Message);
    }

    [Fact]
    public void Constructor_UnknownEntityType_ThrowsListingValidTypes()
    {
        var e = Assert.Throws<ArgumentException>(() => new SensitiveInformationPolicy([new PiiEntityConfig("SOCIAL", PolicyAction.Blocked)], []));
        Assert.Contains("EMAIL", e.Message);
    }

    [Fact]
    public void Assess_HugeMixedAndInvalidText_DoesNotThrow()
    {
        string chunk = "jo@x.io 4111-1111-1111-1111 \ud800 Ωμέγα 中文 \\u12 \\ 12:34:: ";
        string huge = string.Concat(Enumerable.Repeat(chunk, 1_000));

        SensitiveInformationResult result = All.Assess(huge, GuardrailSource.Input);

        Assert.Equal(SensitiveInformationPolicy.MaxFindings, result.PiiEntities.Count);
        Assert.NotNull(result.AnonymizedText);
        Assert.Empty(All.Assess("\\", GuardrailSource.Input).PiiEntities);
        Assert.Empty(All.Assess("\\u", GuardrailSource.Input).PiiEntities);
    }
}
