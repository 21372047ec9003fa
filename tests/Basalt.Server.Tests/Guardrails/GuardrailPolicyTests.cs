using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;
using static Basalt.Server.Tests.Bedrock.BedrockHttp;

namespace Basalt.Server.Tests.Guardrails;

/// <summary>Word, sensitive-information and grounding policies through ApplyGuardrail and Converse.</summary>
public sealed class GuardrailPolicyTests
{
    internal const string PolicyGuardrail = """
        {"name":"policies","blockedInputMessaging":"Input blocked.","blockedOutputsMessaging":"Output blocked.",
         "wordPolicyConfig":{"wordsConfig":[{"text":"project nightingale"}],"managedWordListsConfig":[{"type":"PROFANITY"}]},
         "sensitiveInformationPolicyConfig":{
            "piiEntitiesConfig":[{"type":"EMAIL","action":"ANONYMIZE"},{"type":"CREDIT_DEBIT_CARD_NUMBER","action":"BLOCK"}],
            "regexesConfig":[{"name":"order","pattern":"ORD-[0-9]{6}","action":"ANONYMIZE"}]},
         "contextualGroundingPolicyConfig":{"filtersConfig":[{"type":"GROUNDING","threshold":0.5},{"type":"RELEVANCE","threshold":0.3}]}}
        """;

    private static string Apply(string source, params (string Text, string[]? Qualifiers)[] blocks)
        => JsonSerializer.Serialize(new
        {
            source,
            content = blocks.Select(b => new { text = new { text = b.Text, qualifiers = b.Qualifiers } }),
            outputScope = "FULL",
        });

    private static async Task<(RunningServer Server, HttpClient Client, string Id)> StartAsync()
    {
        var server = await RunningServer.StartAsync();
        var client = server.CreateClient();
        return (server, client, await GuardrailControlPlaneTests.CreateAsync(client, PolicyGuardrail));
    }

    [Fact]
    public async Task ApplyGuardrail_EmailAndRegexAnonymized_OutputsMaskedText()
    {
        var (server, client, id) = await StartAsync();
        await using var _ = server;
        using var __ = client;
        var (_, body) = await PostAsync(client, $"/guardrail/{id}/version/DRAFT/apply",
            Apply("INPUT", ("Mail jane.doe@example.com about ORD-123456 today.", null)));
        Assert.Equal("GUARDRAIL_INTERVENED", body.GetProperty("action").GetString());
        Assert.Equal("Mail {EMAIL} about {order} today.", body.GetProperty("outputs")[0].GetProperty("text").GetString());
        var sip = body.GetProperty("assessments")[0].GetProperty("sensitiveInformationPolicy");
        var email = sip.GetProperty("piiEntities")[0];
        Assert.Equal("EMAIL", email.GetProperty("type").GetString());
        Assert.Equal("jane.doe@example.com", email.GetProperty("match").GetString());
        Assert.Equal("ANONYMIZED", email.GetProperty("action").GetString());
        Assert.Equal("ORD-123456", sip.GetProperty("regexes")[0].GetProperty("match").GetString());
        Assert.Equal(1, body.GetProperty("usage").GetProperty("sensitiveInformationPolicyUnits").GetInt32());
    }

    [Fact]
    public async Task ApplyGuardrail_CardNumberBlock_BlockedMessaging()
    {
        var (server, client, id) = await StartAsync();
        await using var _ = server;
        using var __ = client;
        var (_, body) = await PostAsync(client, $"/guardrail/{id}/version/DRAFT/apply", Apply("OUTPUT", ("Your card 4111 1111 1111 1111 is on file.", null)));
        Assert.Equal("GUARDRAIL_INTERVENED", body.GetProperty("action").GetString());
        Assert.Equal("Output blocked.", body.GetProperty("outputs")[0].GetProperty("text").GetString());
        Assert.Equal("BLOCKED", body.GetProperty("assessments")[0].GetProperty("sensitiveInformationPolicy").GetProperty("piiEntities")[0].GetProperty("action").GetString());
    }

    [Theory]
    [InlineData("Tell me about Project Nightingale please.", "customWords")]
    [InlineData("What the fuck is this?", "managedWordLists")]
    public async Task ApplyGuardrail_WordFilters_Blocked(string text, string list)
    {
        var (server, client, id) = await StartAsync();
        await using var _ = server;
        using var __ = client;
        var (_, body) = await PostAsync(client, $"/guardrail/{id}/version/DRAFT/apply", Apply("INPUT", (text, null)));
        Assert.Equal("Input blocked.", body.GetProperty("outputs")[0].GetProperty("text").GetString());
        var found = body.GetProperty("assessments")[0].GetProperty("wordPolicy").GetProperty(list)[0];
        Assert.Equal("BLOCKED", found.GetProperty("action").GetString());
        Assert.True(body.GetProperty("usage").GetProperty("wordPolicyUnits").GetInt32() >= 1);
    }

    [Fact]
    public async Task ApplyGuardrail_Grounding_UngroundedAnswerBlockedGroundedPasses()
    {
        var (server, client, id) = await StartAsync();
        await using var _ = server;
        using var __ = client;
        const string Source = "The Eiffel Tower is in Paris. It was completed in 1889 and is 330 metres tall.";
        const string Query = "How tall is the Eiffel Tower?";
        var (_, grounded) = await PostAsync(client, $"/guardrail/{id}/version/DRAFT/apply", Apply("OUTPUT",
            (Source, ["grounding_source"]), (Query, ["query"]), ("The Eiffel Tower is 330 metres tall.", ["guard_content"])));
        Assert.Equal("NONE", grounded.GetProperty("action").GetString());
        var filters = grounded.GetProperty("assessments")[0].GetProperty("contextualGroundingPolicy").GetProperty("filters");
        Assert.Equal(2, filters.GetArrayLength());
        Assert.True(grounded.GetProperty("usage").GetProperty("contextualGroundingPolicyUnits").GetInt32() >= 3);
        Assert.Equal(36, grounded.GetProperty("guardrailCoverage").GetProperty("textCharacters").GetProperty("guarded").GetInt32());

        var (_, ungrounded) = await PostAsync(client, $"/guardrail/{id}/version/DRAFT/apply", Apply("OUTPUT",
            (Source, ["grounding_source"]), (Query, ["query"]), ("The Colosseum in Rome holds fifty thousand spectators.", ["guard_content"])));
        Assert.Equal("GUARDRAIL_INTERVENED", ungrounded.GetProperty("action").GetString());
        Assert.Equal("Output blocked.", ungrounded.GetProperty("outputs")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Converse_InputEmailAnonymized_ModelSeesPlaceholder()
    {
        var (server, client, id) = await StartAsync();
        await using var _ = server;
        using var __ = client;
        var body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = "Write to jane.doe@example.com" } } } },
            guardrailConfig = new { guardrailIdentifier = id, guardrailVersion = "DRAFT" },
        });
        var (_, response) = await PostAsync(client, "/model/scripted-model/converse", body);
        Assert.Equal("echo: Write to {EMAIL}", response.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
        var seen = Assert.IsType<TextBlock>(Assert.Single(server.Provider.Requests).Messages[0].Content[0]);
        Assert.Equal("Write to {EMAIL}", seen.Text);
    }

    [Fact]
    public async Task Converse_OutputEmailAnonymized_GuardrailIntervened()
    {
        var (server, client, id) = await StartAsync();
        await using var _ = server;
        using var __ = client;
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock("Her address is jane.doe@example.com.")]),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(3, 5),
        };
        var body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = "What is her address?" } } } },
            guardrailConfig = new { guardrailIdentifier = id, guardrailVersion = "DRAFT", trace = "enabled" },
        });
        var (_, response) = await PostAsync(client, "/model/scripted-model/converse", body);
        Assert.Equal("guardrail_intervened", response.GetProperty("stopReason").GetString());
        Assert.Equal("Her address is {EMAIL}.", response.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task ConverseStream_SyncEmailAcrossBatches_OnlyPlaceholderReachesClient()
    {
        var (server, client, id) = await StartAsync();
        await using var _ = server;
        using var __ = client;
        var filler = string.Concat(Enumerable.Repeat("The weather is mild and the garden is green. ", 6));
        var reply = filler + "Reach her at jane.doe@example.com any time. " + filler;
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock(reply)]),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(3, 5),
        };
        var body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = "Where is she?" } } } },
            guardrailConfig = new { guardrailIdentifier = id, guardrailVersion = "DRAFT", streamProcessingMode = "sync" },
        });
        var frames = await StreamAsync(client, "/model/scripted-model/converse-stream", body);
        var text = string.Concat(frames.Where(f => f.StringHeader(":event-type") == "contentBlockDelta")
            .Select(f => Payload(f).GetProperty("delta").GetProperty("text").GetString()));
        Assert.Equal(reply.Replace("jane.doe@example.com", "{EMAIL}", StringComparison.Ordinal), text);
        Assert.Equal("guardrail_intervened", Payload(frames.Single(f => f.StringHeader(":event-type") == "messageStop")).GetProperty("stopReason").GetString());
    }

    private const string TopicGuardrail = """
        {"name":"topics","blockedInputMessaging":"No investment advice here.","blockedOutputsMessaging":"Output blocked.",
         "topicPolicyConfig":{"topicsConfig":[{"name":"investment advice","definition":"Recommendations about which stocks, funds or cryptocurrencies to buy or sell.",
            "examples":["Should I buy Tesla shares?","Which crypto will go up next month?"],"type":"DENY"}]}}
        """;

    [Fact]
    public async Task DeniedTopic_ParaphraseThroughApplyAndConverse_BlockedOffTopicPasses()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var id = await GuardrailControlPlaneTests.CreateAsync(client, TopicGuardrail);
        var (_, on) = await PostAsync(client, $"/guardrail/{id}/version/DRAFT/apply", Apply("INPUT", ("What fund should I invest my money in?", null)));
        Assert.Equal("GUARDRAIL_INTERVENED", on.GetProperty("action").GetString());
        var topic = on.GetProperty("assessments")[0].GetProperty("topicPolicy").GetProperty("topics")[0];
        Assert.Equal(("investment advice", "DENY", "BLOCKED"), (topic.GetProperty("name").GetString(), topic.GetProperty("type").GetString(), topic.GetProperty("action").GetString()));
        Assert.Equal(1, on.GetProperty("usage").GetProperty("topicPolicyUnits").GetInt32());
        var (_, off) = await PostAsync(client, $"/guardrail/{id}/version/DRAFT/apply", Apply("INPUT", ("How do I bake sourdough bread?", null)));
        Assert.Equal("NONE", off.GetProperty("action").GetString());

        var body = JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = "Which stocks should I buy this year?" } } } },
            guardrailConfig = new { guardrailIdentifier = id, guardrailVersion = "DRAFT" },
        });
        var (_, converse) = await PostAsync(client, "/model/scripted-model/converse", body);
        Assert.Equal("No investment advice here.", converse.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Empty(server.Provider.Requests);
    }
}
