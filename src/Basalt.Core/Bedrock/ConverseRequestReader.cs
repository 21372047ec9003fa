using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using static Basalt.Core.Bedrock.JsonInput;

namespace Basalt.Core.Bedrock;

/// <summary>Translates a Converse / ConverseStream request body (bedrock-runtime ConverseRequest) into the
/// native <see cref="ConverseRequest"/>, checking the spec's constraints on the way.</summary>
internal static class ConverseRequestReader
{
    /// <summary>Most stop sequences accepted (InferenceConfigurationStopSequencesList max).</summary>
    public const int MaxStopSequences = 2500;
    /// <summary>Most additionalModelResponseFieldPaths accepted.</summary>
    public const int MaxResponseFieldPaths = 10;
    /// <summary>Most requestMetadata entries accepted.</summary>
    public const int MaxRequestMetadataEntries = 16;
    /// <summary>Longest tool name or tool-use id (ToolName / ToolUseId max).</summary>
    public const int MaxToolNameLength = 64;
    /// <summary>Longest document name (DocumentBlockNameString max).</summary>
    public const int MaxDocumentNameLength = 200;

    private static readonly string[] ImageFormats = ["png", "jpeg", "gif", "webp"];
    private static readonly string[] DocumentFormats = ["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"];

    /// <summary>Reads a whole Converse request body.</summary>
    public static ConverseRequest Read(JsonElement root, string modelId, bool streaming)
    {
        RequireObject(root, "body");
        return new ConverseRequest
        {
            ModelId = modelId,
            Messages = Optional(root, "messages") is { } m ? Messages(m, "messages") : [],
            System = Optional(root, "system") is { } s ? SystemBlocks(s, "system") : [],
            InferenceConfig = Optional(root, "inferenceConfig") is { } ic ? Inference(ic, "inferenceConfig") : null,
            ToolConfig = Optional(root, "toolConfig") is { } tc ? Tools(tc, "toolConfig") : null,
            AdditionalModelRequestFields = Optional(root, "additionalModelRequestFields") is { } a ? AdditionalFields(a) : null,
            AdditionalModelResponseFieldPaths = Optional(root, "additionalModelResponseFieldPaths") is { } p ? ResponseFieldPaths(p) : null,
            PerformanceConfig = Optional(root, "performanceConfig") is { } pc ? Performance(pc, "performanceConfig") : null,
            RequestMetadata = Optional(root, "requestMetadata") is { } rm ? Metadata(rm, "requestMetadata") : null,
            GuardrailConfig = Optional(root, "guardrailConfig") is { } g ? Guardrail(g, "guardrailConfig", streaming) : null,
            ResponseFormat = Optional(root, "outputConfig") is { } oc ? OutputFormat(oc, "outputConfig") : null,
        };
    }

    /// <summary>Reads the messages list.</summary>
    public static List<Message> Messages(JsonElement e, string path)
    {
        RequireArray(e, path);
        var list = new List<Message>(e.GetArrayLength());
        var i = 0;
        foreach (var m in e.EnumerateArray())
            list.Add(ReadMessage(m, $"{path}[{i++}]"));
        return list;
    }

    /// <summary>Reads one Message (role and content blocks); also used for a Converse response's output.message.</summary>
    public static Message ReadMessage(JsonElement m, string mp)
    {
        RequireObject(m, mp);
        var role = Enum(Required(m, "role", mp), mp + ".role", "user", "assistant") == "user" ? ConversationRole.User : ConversationRole.Assistant;
        var content = Required(m, "content", mp);
        RequireArray(content, mp + ".content");
        var blocks = new List<ContentBlock>(content.GetArrayLength());
        var j = 0;
        foreach (var b in content.EnumerateArray())
            blocks.Add(Block(b, $"{mp}.content[{j++}]"));
        return new Message(role, blocks);
    }

    /// <summary>Reads the system blocks (text, guardContent, cachePoint).</summary>
    public static List<ContentBlock> SystemBlocks(JsonElement e, string path)
    {
        RequireArray(e, path);
        var list = new List<ContentBlock>(e.GetArrayLength());
        var i = 0;
        foreach (var b in e.EnumerateArray())
        {
            var bp = $"{path}[{i++}]";
            var member = UnionMember(b, bp, "a system content block");
            list.Add(member.Name switch
            {
                "text" => new TextBlock(String(member.Value, bp + ".text", min: 1)),
                "guardContent" => Guard(member.Value, bp + ".guardContent"),
                "cachePoint" => CachePoint(member.Value, bp + ".cachePoint"),
                _ => throw Error(bp, $"'{member.Name}' is not a system content block; use text, guardContent or cachePoint."),
            });
        }
        return list;
    }

    private static ContentBlock Block(JsonElement b, string path)
    {
        var member = UnionMember(b, path, "a content block");
        var v = member.Value;
        var p = path + "." + member.Name;
        return member.Name switch
        {
            "text" => new TextBlock(String(v, p)),
            "image" => Image(v, p),
            "document" => Document(v, p),
            "toolUse" => ToolUse(v, p),
            "toolResult" => ToolResult(v, p),
            "cachePoint" => CachePoint(v, p),
            "guardContent" => Guard(v, p),
            "reasoningContent" => Reasoning(v, p),
            "video" or "audio" or "citationsContent" or "searchResult" or "toolAddition" or "toolRemoval"
                => throw Error(p, $"{member.Name} content blocks are not supported by Basalt; send text, image, document, toolUse, toolResult, cachePoint, guardContent or reasoningContent."),
            _ => throw Error(path, $"'{member.Name}' is not a content block type."),
        };
    }

    private static ImageBlock Image(JsonElement v, string path)
    {
        RequireObject(v, path);
        var format = Enum(Required(v, "format", path), path + ".format", ImageFormats);
        return new ImageBlock(format, SourceBytes(Required(v, "source", path), path + ".source"));
    }

    private static byte[] SourceBytes(JsonElement source, string path)
    {
        var member = UnionMember(source, path, "a source");
        return member.Name switch
        {
            "bytes" => Base64(member.Value, path + ".bytes", minBytes: 1),
            "s3Location" => throw Error(path + ".s3Location", "S3 sources are not supported by Basalt; send the content inline as bytes."),
            _ => throw Error(path, $"'{member.Name}' is not a source type here; send bytes."),
        };
    }

    private static DocumentBlock Document(JsonElement v, string path)
    {
        RequireObject(v, path);
        var name = RequiredString(v, "name", path, min: 1, max: MaxDocumentNameLength);
        var format = Optional(v, "format") is { } f ? Enum(f, path + ".format", DocumentFormats) : null;
        var source = Required(v, "source", path);
        var sp = path + ".source";
        var member = UnionMember(source, sp, "a document source");
        byte[] bytes;
        switch (member.Name)
        {
            case "bytes":
                bytes = Base64(member.Value, sp + ".bytes", minBytes: 1);
                break;
            case "text":
                bytes = Encoding.UTF8.GetBytes(String(member.Value, sp + ".text"));
                format ??= "txt";
                break;
            case "content":
                RequireArray(member.Value, sp + ".content");
                var text = new StringBuilder();
                var i = 0;
                foreach (var c in member.Value.EnumerateArray())
                {
                    var cp = $"{sp}.content[{i++}]";
                    text.Append(String(Required(c.ValueKind == JsonValueKind.Object ? c : throw Error(cp, $"expected an object, got {Kind(c)}."), "text", cp), cp + ".text"));
                }
                bytes = Encoding.UTF8.GetBytes(text.ToString());
                format ??= "txt";
                break;
            case "s3Location":
                throw Error(sp + ".s3Location", "S3 sources are not supported by Basalt; send the content inline as bytes.");
            default:
                throw Error(sp, $"'{member.Name}' is not a document source type.");
        }
        return new DocumentBlock(format ?? throw Error(path + ".format", "is required for a bytes source."), name, bytes);
    }

    private static ToolUseBlock ToolUse(JsonElement v, string path)
    {
        RequireObject(v, path);
        var id = RequiredString(v, "toolUseId", path, min: 1, max: MaxToolNameLength);
        var name = ToolName(Required(v, "name", path), path + ".name");
        var input = Required(v, "input", path);
        return new ToolUseBlock(id, name, input.Clone());
    }

    private static ToolResultBlock ToolResult(JsonElement v, string path)
    {
        RequireObject(v, path);
        var id = RequiredString(v, "toolUseId", path, min: 1, max: MaxToolNameLength);
        var content = Required(v, "content", path);
        RequireArray(content, path + ".content");
        var items = new List<ToolResultContent>(content.GetArrayLength());
        var i = 0;
        foreach (var c in content.EnumerateArray())
        {
            var cp = $"{path}.content[{i++}]";
            var member = UnionMember(c, cp, "a tool result content block");
            var mp = cp + "." + member.Name;
            items.Add(member.Name switch
            {
                "text" => new ToolResultText(String(member.Value, mp)),
                "json" => new ToolResultJson(member.Value.Clone()),
                "image" => ResultImage(Image(member.Value, mp)),
                "document" => ResultDocument(Document(member.Value, mp)),
                _ => throw Error(mp, $"{member.Name} tool results are not supported by Basalt; send text, json, image or document."),
            });
        }
        ToolResultStatus? status = Optional(v, "status") is { } s
            ? Enum(s, path + ".status", "success", "error") == "success" ? ToolResultStatus.Success : ToolResultStatus.Error
            : null;
        return new ToolResultBlock(id, items, status);
    }

    private static ToolResultImage ResultImage(ImageBlock image) => new(image.Format, image.Bytes);

    private static ToolResultDocument ResultDocument(DocumentBlock document) => new(document.Format, document.Name, document.Bytes);

    private static CachePointBlock CachePoint(JsonElement v, string path)
    {
        RequireObject(v, path);
        Enum(Required(v, "type", path), path + ".type", "default");
        return new CachePointBlock(Optional(v, "ttl") is { } t ? Enum(t, path + ".ttl", "5m", "1h") : null);
    }

    private static GuardContentBlock Guard(JsonElement v, string path)
    {
        var member = UnionMember(v, path, "guardContent");
        if (member.Name != "text")
            throw Error(path + "." + member.Name, "only text guard content is supported by Basalt.");
        var tp = path + ".text";
        RequireObject(member.Value, tp);
        var text = RequiredString(member.Value, "text", tp);
        List<string>? qualifiers = null;
        if (Optional(member.Value, "qualifiers") is { } q)
        {
            RequireArray(q, tp + ".qualifiers");
            qualifiers = new List<string>(q.GetArrayLength());
            var i = 0;
            foreach (var item in q.EnumerateArray())
                qualifiers.Add(Enum(item, $"{tp}.qualifiers[{i++}]", "grounding_source", "query", "guard_content"));
        }
        return new GuardContentBlock(text, qualifiers);
    }

    private static ReasoningBlock Reasoning(JsonElement v, string path)
    {
        var member = UnionMember(v, path, "reasoningContent");
        var mp = path + "." + member.Name;
        switch (member.Name)
        {
            case "reasoningText":
                RequireObject(member.Value, mp);
                return new ReasoningBlock(RequiredString(member.Value, "text", mp), OptionalString(member.Value, "signature", mp));
            case "redactedContent":
                return new ReasoningBlock(null, null, Base64(member.Value, mp));
            default:
                throw Error(mp, "is not a reasoningContent member; use reasoningText or redactedContent.");
        }
    }

    /// <summary>Reads inferenceConfig; <paramref name="novaNames"/> also accepts Nova's max_new_tokens spelling.</summary>
    public static InferenceConfig Inference(JsonElement v, string path, bool novaNames = false)
    {
        RequireObject(v, path);
        var maxTokens = Optional(v, "maxTokens") is { } mt ? Int(mt, path + ".maxTokens", min: 1) : (int?)null;
        if (novaNames && maxTokens is null && Optional(v, "max_new_tokens") is { } mnt)
            maxTokens = Int(mnt, path + ".max_new_tokens", min: 1);
        List<string>? stops = null;
        if (Optional(v, "stopSequences") is { } ss)
        {
            RequireArray(ss, path + ".stopSequences", max: MaxStopSequences);
            stops = new List<string>(ss.GetArrayLength());
            var i = 0;
            foreach (var s in ss.EnumerateArray())
                stops.Add(String(s, $"{path}.stopSequences[{i++}]", min: 1));
        }
        return new InferenceConfig
        {
            MaxTokens = maxTokens,
            Temperature = Optional(v, "temperature") is { } t ? Float(t, path + ".temperature", 0, 1) : null,
            TopP = Optional(v, "topP") is { } tp ? Float(tp, path + ".topP", 0, 1) : null,
            StopSequences = stops,
        };
    }

    /// <summary>Reads toolConfig: tools (toolSpec) and toolChoice (auto, any, tool).</summary>
    public static ToolConfig Tools(JsonElement v, string path)
    {
        RequireObject(v, path);
        var tools = Required(v, "tools", path);
        RequireArray(tools, path + ".tools", min: 1);
        var specs = new List<ToolSpecification>(tools.GetArrayLength());
        CachePointBlock? cachePoint = null;
        var i = 0;
        foreach (var t in tools.EnumerateArray())
        {
            var tp = $"{path}.tools[{i++}]";
            var member = UnionMember(t, tp, "a tool");
            var mp = tp + "." + member.Name;
            switch (member.Name)
            {
                case "toolSpec":
                    RequireObject(member.Value, mp);
                    var name = ToolName(Required(member.Value, "name", mp), mp + ".name");
                    var description = OptionalString(member.Value, "description", mp, min: 1);
                    var schema = UnionMember(Required(member.Value, "inputSchema", mp), mp + ".inputSchema", "inputSchema");
                    if (schema.Name != "json")
                        throw Error(mp + ".inputSchema", $"'{schema.Name}' is not an input schema type; use json.");
                    RequireObject(schema.Value, mp + ".inputSchema.json");
                    foreach (var existing in specs)
                        if (existing.Name == name)
                            throw Error(mp + ".name", $"the tool name '{name}' is used twice.");
                    specs.Add(new ToolSpecification(name, description, schema.Value.Clone()));
                    break;
                case "cachePoint":
                    // The native tool list keeps one cache point: a provider that caches caches the tool list up to its last tool.
                    cachePoint = CachePoint(member.Value, mp);
                    break;
                default:
                    throw Error(mp, $"{member.Name} tools are not supported by Basalt; define tools with toolSpec.");
            }
        }
        if (specs.Count == 0)
            throw Error(path + ".tools", "must define at least one toolSpec.");
        ToolChoice? choice = null;
        if (Optional(v, "toolChoice") is { } c)
        {
            var cp = path + ".toolChoice";
            var member = UnionMember(c, cp, "toolChoice");
            RequireObject(member.Value, cp + "." + member.Name);
            choice = member.Name switch
            {
                "auto" => ToolChoice.Auto,
                "any" => ToolChoice.Any,
                "tool" => new ToolChoice(ToolChoiceKind.Tool, ToolName(Required(member.Value, "name", cp + ".tool"), cp + ".tool.name")),
                _ => throw Error(cp, $"'{member.Name}' is not a toolChoice; use auto, any or tool."),
            };
            if (choice.Kind == ToolChoiceKind.Tool && !specs.Exists(s => s.Name == choice.Name))
                throw Error(cp + ".tool.name", $"'{choice.Name}' is not one of the tools defined in {path}.tools.");
        }
        return new ToolConfig(specs, choice) { CachePoint = cachePoint };
    }

    private static string ToolName(JsonElement e, string path)
    {
        var name = String(e, path, min: 1, max: MaxToolNameLength);
        foreach (var ch in name)
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-'))
                throw Error(path, $"'{name}' may hold only letters, digits, '_' and '-'.");
        return name;
    }

    /// <summary>Reads additionalModelRequestFields (any JSON object, passed through).</summary>
    public static JsonElement AdditionalFields(JsonElement v)
    {
        RequireObject(v, "additionalModelRequestFields");
        return v.Clone();
    }

    private static List<string> ResponseFieldPaths(JsonElement v)
    {
        const string path = "additionalModelResponseFieldPaths";
        RequireArray(v, path, max: MaxResponseFieldPaths);
        var list = new List<string>(v.GetArrayLength());
        var i = 0;
        foreach (var p in v.EnumerateArray())
        {
            var pp = $"{path}[{i++}]";
            var pointer = String(p, pp, min: 1, max: 256);
            if (pointer[0] != '/')
                throw Error(pp, $"'{pointer}' is not a JSON Pointer; it must start with '/' (for example \"/stop_sequence\").");
            list.Add(pointer);
        }
        return list;
    }

    /// <summary>Reads performanceConfig.</summary>
    public static PerformanceConfig Performance(JsonElement v, string path)
    {
        RequireObject(v, path);
        return new PerformanceConfig(Optional(v, "latency") is { } l ? Enum(l, path + ".latency", "standard", "optimized") : "standard");
    }

    private static Dictionary<string, string> Metadata(JsonElement v, string path)
    {
        RequireObject(v, path);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in v.EnumerateObject())
        {
            var pp = $"{path}.{p.Name}";
            if (p.Name.Length is 0 or > 256 || !MetadataChars(p.Name))
                throw Error(pp, "metadata keys must be 1 to 256 characters of letters, digits, spaces and :_@$#=/+,-.");
            var value = String(p.Value, pp, max: 256);
            if (!MetadataChars(value))
                throw Error(pp, "metadata values may hold only letters, digits, spaces and :_@$#=/+,-.");
            map[p.Name] = value;
        }
        if (map.Count is 0 or > MaxRequestMetadataEntries)
            throw Error(path, $"must hold 1 to {MaxRequestMetadataEntries} entries (got {map.Count}).");
        return map;
    }

    private static bool MetadataChars(string s)
    {
        foreach (var ch in s)
            if (!(char.IsAsciiLetterOrDigit(ch) || char.IsWhiteSpace(ch) || ":_@$#=/+,-.".Contains(ch)))
                return false;
        return true;
    }

    private static GuardrailConfig Guardrail(JsonElement v, string path, bool streaming)
    {
        RequireObject(v, path);
        var id = RequiredString(v, "guardrailIdentifier", path, max: 2048);
        var version = RequiredString(v, "guardrailVersion", path);
        if (version != "DRAFT" && !(version.Length is >= 1 and <= 8 && version[0] != '0' && version.All(char.IsAsciiDigit)))
            throw Error(path + ".guardrailVersion", $"'{version}' is not a guardrail version; use DRAFT or a version number.");
        var trace = Optional(v, "trace") is { } t ? Enum(t, path + ".trace", "enabled", "disabled", "enabled_full") : null;
        var mode = streaming && Optional(v, "streamProcessingMode") is { } m ? Enum(m, path + ".streamProcessingMode", "sync", "async") : null;
        return new GuardrailConfig(id, version, trace, mode);
    }

    private static ResponseFormat? OutputFormat(JsonElement v, string path)
    {
        RequireObject(v, path);
        if (Optional(v, "textFormat") is not { } tf)
            return null;
        var tp = path + ".textFormat";
        RequireObject(tf, tp);
        Enum(Required(tf, "type", tp), tp + ".type", "json_schema");
        var structure = UnionMember(Required(tf, "structure", tp), tp + ".structure", "structure");
        if (structure.Name != "jsonSchema")
            throw Error(tp + ".structure", $"'{structure.Name}' is not a structure type; use jsonSchema.");
        var sp = tp + ".structure.jsonSchema";
        RequireObject(structure.Value, sp);
        var schemaText = RequiredString(structure.Value, "schema", sp);
        JsonElement schema;
        try
        {
            using var doc = JsonDocument.Parse(schemaText);
            schema = doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw Error(sp + ".schema", "is not valid JSON; send the JSON schema as a string.");
        }
        return new ResponseFormat("json_schema", OptionalString(structure.Value, "name", sp), schema, Strict: true);
    }
}
