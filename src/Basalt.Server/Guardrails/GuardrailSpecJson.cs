using System.Text.Json;
using System.Text.RegularExpressions;
using Basalt.Core.Conversation;
using Basalt.Guardrails;
using Basalt.Guardrails.Resources;
using static Basalt.Core.Bedrock.JsonInput;

namespace Basalt.Server.Guardrails;

/// <summary>Reads a CreateGuardrail / UpdateGuardrail body into a <see cref="GuardrailSpec"/>, enforcing bedrock.json's
/// constraints with a ValidationException naming the field; writes a spec back in the config shape (the stored form, and
/// what the CLI accepts) or in GetGuardrail's policy shape.</summary>
internal static class GuardrailSpecJson
{
    private static readonly string[] ContentTypes = ["SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT", "PROMPT_ATTACK"];
    private static readonly string[] Strengths = ["NONE", "LOW", "MEDIUM", "HIGH"];
    private static readonly string[] BlockOrNone = ["BLOCK", "NONE"];
    private static readonly string[] SensitiveActions = ["BLOCK", "ANONYMIZE", "NONE"];
    private static readonly string[] Tiers = ["CLASSIC", "STANDARD"];

    /// <summary>Bedrock's GuardrailPiiEntityType values.</summary>
    public static readonly string[] PiiTypes =
    [
        "ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER", "CREDIT_DEBIT_CARD_CVV",
        "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL", "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS",
        "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD", "PHONE", "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
        "UK_NATIONAL_INSURANCE_NUMBER", "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER",
        "US_BANK_ROUTING_NUMBER", "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
        "VEHICLE_IDENTIFICATION_NUMBER",
    ];

    /// <summary>Reads the body of CreateGuardrail or UpdateGuardrail (fields Basalt has no use for, such as tags, kmsKeyId and
    /// crossRegionConfig, are accepted and ignored; automatedReasoningPolicyConfig is refused, Basalt has no such policy).</summary>
    public static GuardrailSpec Read(JsonElement root)
    {
        RequireObject(root, "body");
        var name = RequiredString(root, "name", "", 1, 50);
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                throw Error("name", $"'{name}' may hold only letters, digits, '-' and '_'.");
        if (Optional(root, "automatedReasoningPolicyConfig") is not null)
            throw Error("automatedReasoningPolicyConfig", "automated reasoning policies are not supported by Basalt; remove the field.");
        return new GuardrailSpec
        {
            Name = name,
            Description = OptionalString(root, "description", "", 1, 200),
            BlockedInputMessaging = RequiredString(root, "blockedInputMessaging", "", 1, 500),
            BlockedOutputsMessaging = RequiredString(root, "blockedOutputsMessaging", "", 1, 500),
            ContentPolicy = Optional(root, "contentPolicyConfig") is { } cp ? Content(cp, "contentPolicyConfig") : null,
            TopicPolicy = Optional(root, "topicPolicyConfig") is { } tp ? Topics(tp, "topicPolicyConfig") : null,
            WordPolicy = Optional(root, "wordPolicyConfig") is { } wp ? Words(wp, "wordPolicyConfig") : null,
            SensitiveInformationPolicy = Optional(root, "sensitiveInformationPolicyConfig") is { } sp ? Sensitive(sp, "sensitiveInformationPolicyConfig") : null,
            ContextualGroundingPolicy = Optional(root, "contextualGroundingPolicyConfig") is { } gp ? Grounding(gp, "contextualGroundingPolicyConfig") : null,
        };
    }

    private static ContentPolicySpec Content(JsonElement v, string path)
    {
        RequireObject(v, path);
        var list = Required(v, "filtersConfig", path);
        var lp = path + ".filtersConfig";
        RequireArray(list, lp, 1, 6);
        var filters = new List<ContentFilterSpec>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var f in list.EnumerateArray())
        {
            var p = $"{lp}[{i++}]";
            RequireObject(f, p);
            var type = Enum(Required(f, "type", p), p + ".type", ContentTypes);
            if (!seen.Add(type))
                throw Error(p + ".type", $"{type} is configured more than once; give each content filter type once.");
            var output = Strength(Required(f, "outputStrength", p), p + ".outputStrength");
            if (type == "PROMPT_ATTACK" && output != FilterStrength.None)
                throw Error(p + ".outputStrength", "PROMPT_ATTACK applies to input only; set its outputStrength to NONE.");
            filters.Add(new ContentFilterSpec(type, Strength(Required(f, "inputStrength", p), p + ".inputStrength"), output,
                Action(f, "inputAction", p, BlockOrNone, PolicyAction.Blocked), Action(f, "outputAction", p, BlockOrNone, PolicyAction.Blocked),
                Flag(f, "inputEnabled", p), Flag(f, "outputEnabled", p)));
            Modalities(f, "inputModalities", p);
            Modalities(f, "outputModalities", p);
        }
        return new ContentPolicySpec(filters, Tier(v, path));
    }

    private static TopicPolicySpec Topics(JsonElement v, string path)
    {
        RequireObject(v, path);
        var list = Required(v, "topicsConfig", path);
        var lp = path + ".topicsConfig";
        RequireArray(list, lp, 1, 30);
        var topics = new List<TopicSpec>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        foreach (var t in list.EnumerateArray())
        {
            var p = $"{lp}[{i++}]";
            RequireObject(t, p);
            var name = RequiredString(t, "name", p, 1, 100);
            foreach (var c in name)
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or ' ' or '!' or '?' or '.'))
                    throw Error(p + ".name", $"'{name}' may hold only letters, digits, spaces and - _ ! ? .");
            if (!seen.Add(name))
                throw Error(p + ".name", $"the topic '{name}' is defined more than once.");
            var definition = RequiredString(t, "definition", p, 1, 200);
            Enum(Required(t, "type", p), p + ".type", "DENY");
            var examples = new List<string>();
            if (Optional(t, "examples") is { } ex)
            {
                RequireArray(ex, p + ".examples", 0, 5);
                var j = 0;
                foreach (var e in ex.EnumerateArray())
                    examples.Add(String(e, $"{p}.examples[{j++}]", 1, 100));
            }
            topics.Add(new TopicSpec(name, definition, examples,
                Action(t, "inputAction", p, BlockOrNone, PolicyAction.Blocked), Action(t, "outputAction", p, BlockOrNone, PolicyAction.Blocked),
                Flag(t, "inputEnabled", p), Flag(t, "outputEnabled", p)));
        }
        return new TopicPolicySpec(topics, Tier(v, path));
    }

    private static WordPolicySpec Words(JsonElement v, string path)
    {
        RequireObject(v, path);
        var words = new List<WordSpec>();
        if (Optional(v, "wordsConfig") is { } list)
        {
            var lp = path + ".wordsConfig";
            RequireArray(list, lp, 1, 10_000);
            var i = 0;
            foreach (var w in list.EnumerateArray())
            {
                var p = $"{lp}[{i++}]";
                RequireObject(w, p);
                words.Add(new WordSpec(RequiredString(w, "text", p, 1, 100),
                    Action(w, "inputAction", p, BlockOrNone, PolicyAction.Blocked), Action(w, "outputAction", p, BlockOrNone, PolicyAction.Blocked),
                    Flag(w, "inputEnabled", p), Flag(w, "outputEnabled", p)));
            }
        }
        var managed = new List<ManagedWordListSpec>();
        if (Optional(v, "managedWordListsConfig") is { } ml)
        {
            var lp = path + ".managedWordListsConfig";
            RequireArray(ml, lp);
            var i = 0;
            foreach (var m in ml.EnumerateArray())
            {
                var p = $"{lp}[{i++}]";
                RequireObject(m, p);
                managed.Add(new ManagedWordListSpec(Enum(Required(m, "type", p), p + ".type", "PROFANITY"),
                    Action(m, "inputAction", p, BlockOrNone, PolicyAction.Blocked), Action(m, "outputAction", p, BlockOrNone, PolicyAction.Blocked),
                    Flag(m, "inputEnabled", p), Flag(m, "outputEnabled", p)));
            }
        }
        if (words.Count == 0 && managed.Count == 0)
            throw Error(path, "set wordsConfig, managedWordListsConfig or both.");
        return new WordPolicySpec(words, managed);
    }

    private static SensitiveInformationPolicySpec Sensitive(JsonElement v, string path)
    {
        RequireObject(v, path);
        var entities = new List<PiiEntitySpec>();
        if (Optional(v, "piiEntitiesConfig") is { } list)
        {
            var lp = path + ".piiEntitiesConfig";
            RequireArray(list, lp, 1);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var i = 0;
            foreach (var e in list.EnumerateArray())
            {
                var p = $"{lp}[{i++}]";
                RequireObject(e, p);
                var type = Enum(Required(e, "type", p), p + ".type", PiiTypes);
                if (!seen.Add(type))
                    throw Error(p + ".type", $"{type} is configured more than once.");
                var action = SensitiveAction(Required(e, "action", p), p + ".action");
                entities.Add(new PiiEntitySpec(type, action,
                    Action(e, "inputAction", p, SensitiveActions, action), Action(e, "outputAction", p, SensitiveActions, action),
                    Flag(e, "inputEnabled", p), Flag(e, "outputEnabled", p)));
            }
        }
        var regexes = new List<RegexSpec>();
        if (Optional(v, "regexesConfig") is { } rl)
        {
            var lp = path + ".regexesConfig";
            RequireArray(rl, lp, 1, 10);
            var i = 0;
            foreach (var r in rl.EnumerateArray())
            {
                var p = $"{lp}[{i++}]";
                RequireObject(r, p);
                var pattern = RequiredString(r, "pattern", p, 1, 500);
                try
                {
                    _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromMilliseconds(100));
                }
                catch (ArgumentException e)
                {
                    throw Error(p + ".pattern", $"is not a valid regular expression: {e.Message}");
                }
                var action = SensitiveAction(Required(r, "action", p), p + ".action");
                regexes.Add(new RegexSpec(RequiredString(r, "name", p, 1, 100), OptionalString(r, "description", p, 1, 1000), pattern, action,
                    Action(r, "inputAction", p, SensitiveActions, action), Action(r, "outputAction", p, SensitiveActions, action),
                    Flag(r, "inputEnabled", p), Flag(r, "outputEnabled", p)));
            }
        }
        if (entities.Count == 0 && regexes.Count == 0)
            throw Error(path, "set piiEntitiesConfig, regexesConfig or both.");
        return new SensitiveInformationPolicySpec(entities, regexes);
    }

    private static GroundingPolicySpec Grounding(JsonElement v, string path)
    {
        RequireObject(v, path);
        var list = Required(v, "filtersConfig", path);
        var lp = path + ".filtersConfig";
        RequireArray(list, lp, 1, 2);
        var filters = new List<GroundingFilterSpec>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var f in list.EnumerateArray())
        {
            var p = $"{lp}[{i++}]";
            RequireObject(f, p);
            var type = Enum(Required(f, "type", p), p + ".type", "GROUNDING", "RELEVANCE");
            if (!seen.Add(type))
                throw Error(p + ".type", $"{type} is configured more than once.");
            var t = Required(f, "threshold", p);
            if (t.ValueKind != JsonValueKind.Number)
                throw Error(p + ".threshold", $"expected a number, got {Kind(t)}.");
            var threshold = t.GetDouble();
            // Bedrock accepts thresholds from 0 up to, but not including, 1 (0.99 at most).
            if (!(threshold >= 0 && threshold <= 0.99))
                throw Error(p + ".threshold", $"must be between 0 and 0.99 (got {t.GetRawText()}).");
            filters.Add(new GroundingFilterSpec(type, threshold, Action(f, "action", p, BlockOrNone, PolicyAction.Blocked), Flag(f, "enabled", p)));
        }
        return new GroundingPolicySpec(filters);
    }

    private static FilterStrength Strength(JsonElement e, string path) => Enum(e, path, Strengths) switch
    {
        "LOW" => FilterStrength.Low,
        "MEDIUM" => FilterStrength.Medium,
        "HIGH" => FilterStrength.High,
        _ => FilterStrength.None,
    };

    private static PolicyAction SensitiveAction(JsonElement e, string path) => ActionValue(Enum(e, path, SensitiveActions));

    private static PolicyAction Action(JsonElement obj, string name, string path, string[] allowed, PolicyAction fallback)
        => Optional(obj, name) is { } v ? ActionValue(Enum(v, Join(path, name), allowed)) : fallback;

    private static PolicyAction ActionValue(string s) => s switch
    {
        "BLOCK" => PolicyAction.Blocked,
        "ANONYMIZE" => PolicyAction.Anonymized,
        _ => PolicyAction.None,
    };

    private static bool Flag(JsonElement obj, string name, string path)
        => Optional(obj, name) is not { } v || Bool(v, Join(path, name));

    private static void Modalities(JsonElement obj, string name, string path)
    {
        if (Optional(obj, name) is not { } v)
            return;
        RequireArray(v, Join(path, name), 1, 2);
        var i = 0;
        foreach (var m in v.EnumerateArray())
            if (Enum(m, $"{path}.{name}[{i++}]", "TEXT", "IMAGE") == "IMAGE")
                throw Error($"{path}.{name}[{i - 1}]", "Basalt's content filters assess text only; remove IMAGE.");
    }

    private static string? Tier(JsonElement v, string path)
    {
        if (Optional(v, "tierConfig") is not { } t)
            return null;
        RequireObject(t, path + ".tierConfig");
        return Enum(Required(t, "tierName", path + ".tierConfig"), path + ".tierConfig.tierName", Tiers);
    }

    /// <summary>Writes the spec's fields (name, description, messaging and the policies) into the open object. In the config
    /// shape (<paramref name="policyShape"/> false) the names are CreateGuardrail's (contentPolicyConfig.filtersConfig); in
    /// the policy shape GetGuardrail's (contentPolicy.filters).</summary>
    public static void WriteFields(Utf8JsonWriter w, GuardrailSpec s, bool policyShape)
    {
        w.WriteString("name", s.Name);
        if (s.Description is { } d)
            w.WriteString("description", d);
        if (s.TopicPolicy is { } tp)
        {
            w.WriteStartObject(policyShape ? "topicPolicy" : "topicPolicyConfig");
            w.WriteStartArray(policyShape ? "topics" : "topicsConfig");
            foreach (var t in tp.Topics)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteString("definition", t.Definition);
                w.WriteStartArray("examples");
                foreach (var e in t.Examples)
                    w.WriteStringValue(e);
                w.WriteEndArray();
                w.WriteString("type", "DENY");
                WriteActions(w, t.InputAction, t.OutputAction, t.InputEnabled, t.OutputEnabled);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteTier(w, tp.TierName, policyShape);
            w.WriteEndObject();
        }
        if (s.ContentPolicy is { } cp)
        {
            w.WriteStartObject(policyShape ? "contentPolicy" : "contentPolicyConfig");
            w.WriteStartArray(policyShape ? "filters" : "filtersConfig");
            foreach (var f in cp.Filters)
            {
                w.WriteStartObject();
                w.WriteString("type", f.Type);
                w.WriteString("inputStrength", GuardrailWire.Strength(f.InputStrength));
                w.WriteString("outputStrength", GuardrailWire.Strength(f.OutputStrength));
                w.WriteStartArray("inputModalities");
                w.WriteStringValue("TEXT");
                w.WriteEndArray();
                w.WriteStartArray("outputModalities");
                w.WriteStringValue("TEXT");
                w.WriteEndArray();
                WriteActions(w, f.InputAction, f.OutputAction, f.InputEnabled, f.OutputEnabled);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteTier(w, cp.TierName, policyShape);
            w.WriteEndObject();
        }
        if (s.WordPolicy is { } wp)
        {
            w.WriteStartObject(policyShape ? "wordPolicy" : "wordPolicyConfig");
            if (wp.Words.Count > 0)
            {
                w.WriteStartArray(policyShape ? "words" : "wordsConfig");
                foreach (var word in wp.Words)
                {
                    w.WriteStartObject();
                    w.WriteString("text", word.Text);
                    WriteActions(w, word.InputAction, word.OutputAction, word.InputEnabled, word.OutputEnabled);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (wp.ManagedWordLists.Count > 0)
            {
                w.WriteStartArray(policyShape ? "managedWordLists" : "managedWordListsConfig");
                foreach (var m in wp.ManagedWordLists)
                {
                    w.WriteStartObject();
                    w.WriteString("type", m.Type);
                    WriteActions(w, m.InputAction, m.OutputAction, m.InputEnabled, m.OutputEnabled);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        if (s.SensitiveInformationPolicy is { } sp)
        {
            w.WriteStartObject(policyShape ? "sensitiveInformationPolicy" : "sensitiveInformationPolicyConfig");
            if (sp.PiiEntities.Count > 0)
            {
                w.WriteStartArray(policyShape ? "piiEntities" : "piiEntitiesConfig");
                foreach (var e in sp.PiiEntities)
                {
                    w.WriteStartObject();
                    w.WriteString("type", e.Type);
                    w.WriteString("action", ConfigAction(e.Action));
                    WriteActions(w, e.InputAction, e.OutputAction, e.InputEnabled, e.OutputEnabled);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (sp.Regexes.Count > 0)
            {
                w.WriteStartArray(policyShape ? "regexes" : "regexesConfig");
                foreach (var r in sp.Regexes)
                {
                    w.WriteStartObject();
                    w.WriteString("name", r.Name);
                    if (r.Description is { } rd)
                        w.WriteString("description", rd);
                    w.WriteString("pattern", r.Pattern);
                    w.WriteString("action", ConfigAction(r.Action));
                    WriteActions(w, r.InputAction, r.OutputAction, r.InputEnabled, r.OutputEnabled);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        if (s.ContextualGroundingPolicy is { } gp)
        {
            w.WriteStartObject(policyShape ? "contextualGroundingPolicy" : "contextualGroundingPolicyConfig");
            w.WriteStartArray(policyShape ? "filters" : "filtersConfig");
            foreach (var f in gp.Filters)
            {
                w.WriteStartObject();
                w.WriteString("type", f.Type);
                w.WriteNumber("threshold", f.Threshold);
                w.WriteString("action", ConfigAction(f.Action));
                w.WriteBoolean("enabled", f.Enabled);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteString("blockedInputMessaging", s.BlockedInputMessaging);
        w.WriteString("blockedOutputsMessaging", s.BlockedOutputsMessaging);
    }

    /// <summary>The spec as a CreateGuardrail body (the stored form).</summary>
    public static string ToConfigJson(GuardrailSpec spec)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            WriteFields(w, spec, policyShape: false);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads the stored form back.</summary>
    public static GuardrailSpec FromConfigJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Read(doc.RootElement);
    }

    private static void WriteActions(Utf8JsonWriter w, PolicyAction input, PolicyAction output, bool inputEnabled, bool outputEnabled)
    {
        w.WriteString("inputAction", ConfigAction(input));
        w.WriteString("outputAction", ConfigAction(output));
        w.WriteBoolean("inputEnabled", inputEnabled);
        w.WriteBoolean("outputEnabled", outputEnabled);
    }

    private static void WriteTier(Utf8JsonWriter w, string? tier, bool policyShape)
    {
        if (tier is null)
            return;
        w.WriteStartObject(policyShape ? "tier" : "tierConfig");
        w.WriteString("tierName", tier);
        w.WriteEndObject();
    }

    private static string ConfigAction(PolicyAction a) => a switch
    {
        PolicyAction.Blocked => "BLOCK",
        PolicyAction.Anonymized => "ANONYMIZE",
        _ => "NONE",
    };
}
