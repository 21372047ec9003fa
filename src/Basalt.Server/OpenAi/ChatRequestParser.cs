using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;

namespace Basalt.Server.OpenAi;

/// <summary>Reads a chat completions body in one forward pass of <see cref="Utf8JsonReader"/> and translates it into the
/// native request. Unknown fields are skipped, as OpenAI does; a bad field fails with its JSON path (messages[2].content).</summary>
internal sealed class ChatRequestParser
{
    /// <summary>Deepest JSON nesting accepted (tool schemas nest; 64 is System.Text.Json's default).</summary>
    public const int MaxJsonDepth = 64;

    /// <summary>OpenAI accepts at most four stop sequences.</summary>
    public const int MaxStopSequences = 4;

    /// <summary>OpenAI's limit on function names (^[a-zA-Z0-9_-]{1,64}$).</summary>
    public const int MaxToolNameLength = 64;

    /// <summary>OpenAI's limit on metadata pairs.</summary>
    public const int MaxMetadataPairs = 16;

    private const int MaxPathDepth = 16;

    private static readonly JsonElement EmptyObjectSchema = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();
    private static readonly JsonElement EmptyArguments = JsonDocument.Parse("{}").RootElement.Clone();

    private readonly Segment[] _path = new Segment[MaxPathDepth];
    private int _depth;

    private ChatRequestParser()
    {
    }

    /// <summary>Parses a whole request body; throws <see cref="OpenAiRequestException"/> for anything OpenAI would answer with 400.</summary>
    public static ChatCompletionRequest Parse(ReadOnlySequence<byte> body) => new ChatRequestParser().ParseBody(body);

    /// <summary>Parses a whole request body held in one span.</summary>
    public static ChatCompletionRequest Parse(ReadOnlySpan<byte> body) => new ChatRequestParser().ParseBody(new ReadOnlySequence<byte>(body.ToArray()));

    private ChatCompletionRequest ParseBody(ReadOnlySequence<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxJsonDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw Fail("The request body must be a JSON object with at least model and messages.");
            var request = ReadRequest(ref reader);
            // A second top-level value or trailing garbage makes the reader throw here.
            reader.Read();
            return request;
        }
        catch (JsonException e)
        {
            throw new OpenAiRequestException(null, "We could not parse the JSON body of your request (" + e.Message + "). Send one JSON object, encoded as UTF-8.");
        }
    }

    private ChatCompletionRequest ReadRequest(ref Utf8JsonReader r)
    {
        string? model = null;
        List<RawMessage>? messages = null;
        bool stream = false, includeUsage = false;
        long? maxTokens = null, maxCompletionTokens = null, seed = null, n = null;
        double? temperature = null, topP = null;
        List<string>? stop = null;
        List<ToolSpecification>? tools = null;
        RawToolChoice? toolChoice = null;
        ResponseFormat? responseFormat = null;
        string? user = null;
        Dictionary<string, string>? metadata = null;

        while (NextProperty(ref r))
        {
            if (Member(ref r, "model"u8, "model"))
                model = ReadString(ref r);
            else if (Member(ref r, "messages"u8, "messages"))
                messages = ReadMessages(ref r);
            else if (Member(ref r, "stream"u8, "stream"))
                stream = ReadOptionalBool(ref r) ?? false;
            else if (Member(ref r, "stream_options"u8, "stream_options"))
                includeUsage = ReadStreamOptions(ref r);
            else if (Member(ref r, "max_tokens"u8, "max_tokens"))
                maxTokens = ReadOptionalInteger(ref r, min: 1, max: int.MaxValue);
            else if (Member(ref r, "max_completion_tokens"u8, "max_completion_tokens"))
                maxCompletionTokens = ReadOptionalInteger(ref r, min: 1, max: int.MaxValue);
            else if (Member(ref r, "temperature"u8, "temperature"))
                temperature = ReadOptionalNumber(ref r, 0, 2);
            else if (Member(ref r, "top_p"u8, "top_p"))
                topP = ReadOptionalNumber(ref r, 0, 1);
            else if (Member(ref r, "seed"u8, "seed"))
                seed = ReadOptionalInteger(ref r, long.MinValue, long.MaxValue);
            else if (Member(ref r, "n"u8, "n"))
                n = ReadOptionalInteger(ref r, long.MinValue, long.MaxValue);
            else if (Member(ref r, "stop"u8, "stop"))
                stop = ReadStop(ref r);
            else if (Member(ref r, "tools"u8, "tools"))
                tools = ReadTools(ref r);
            else if (Member(ref r, "tool_choice"u8, "tool_choice"))
                toolChoice = ReadToolChoice(ref r);
            else if (Member(ref r, "response_format"u8, "response_format"))
                responseFormat = ReadResponseFormat(ref r);
            else if (Member(ref r, "user"u8, "user"))
                user = ReadOptionalString(ref r);
            else if (Member(ref r, "metadata"u8, "metadata"))
                metadata = ReadMetadata(ref r);
            else
            {
                SkipValue(ref r);
                continue;
            }
            Leave();
        }

        if (string.IsNullOrEmpty(model))
            throw FailAt("model", "is required; name a model listed by GET /v1/models.");
        if (messages is null)
            throw FailAt("messages", "is required: an array of at least one message.");
        if (n is not null and not 1)
            throw FailAt("n", $"Basalt returns one choice per request, so n must be 1 (got {n}); send several requests for several choices.");

        var (system, turns) = ToConversation(messages);
        var stopSequences = stop is { Count: > 0 } ? stop : null;
        var maxOut = maxCompletionTokens ?? maxTokens;
        InferenceConfig? inference = null;
        if (maxOut is not null || temperature is not null || topP is not null || stopSequences is not null || seed is not null)
        {
            inference = new InferenceConfig
            {
                MaxTokens = maxOut is null ? null : (int)maxOut.Value,
                Temperature = temperature is null ? null : (float)temperature.Value,
                TopP = topP is null ? null : (float)topP.Value,
                StopSequences = stopSequences,
                Seed = seed,
            };
        }

        if (user is not null)
        {
            metadata ??= new Dictionary<string, string>(StringComparer.Ordinal);
            metadata.TryAdd("user", user);
        }

        var converse = new ConverseRequest
        {
            ModelId = model,
            Messages = turns,
            System = system,
            InferenceConfig = inference,
            ToolConfig = ToToolConfig(tools, toolChoice),
            ResponseFormat = responseFormat,
            RequestMetadata = metadata,
        };
        return new ChatCompletionRequest(converse, model, stream, includeUsage);
    }

    // ---- messages -------------------------------------------------------------------------------------------------

    private List<RawMessage> ReadMessages(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartArray)
            throw Fail("must be an array of message objects.");
        var list = new List<RawMessage>();
        while (NextItem(ref r, list.Count))
        {
            list.Add(ReadMessage(ref r));
            Leave();
        }
        if (list.Count == 0)
            throw Fail("must contain at least one message.");
        return list;
    }

    private RawMessage ReadMessage(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be a message object with a role.");
        var m = new RawMessage();
        while (NextProperty(ref r))
        {
            if (Member(ref r, "role"u8, "role"))
                m.Role = ReadString(ref r);
            else if (Member(ref r, "content"u8, "content"))
                ReadContent(ref r, m);
            else if (Member(ref r, "tool_calls"u8, "tool_calls"))
                m.ToolCalls = ReadToolCalls(ref r);
            else if (Member(ref r, "tool_call_id"u8, "tool_call_id"))
                m.ToolCallId = ReadString(ref r);
            else if (Member(ref r, "refusal"u8, "refusal"))
                m.Refusal = ReadOptionalString(ref r);
            else
            {
                SkipValue(ref r);
                continue;
            }
            Leave();
        }
        return m;
    }

    private void ReadContent(ref Utf8JsonReader r, RawMessage m)
    {
        switch (r.TokenType)
        {
            case JsonTokenType.Null:
                return;
            case JsonTokenType.String:
                m.Text = ReadString(ref r);
                return;
            case JsonTokenType.StartArray:
                m.Parts = [];
                while (NextItem(ref r, m.Parts.Count))
                {
                    m.Parts.Add(ReadContentPart(ref r));
                    Leave();
                }
                return;
            default:
                throw Fail("must be a string, an array of content parts, or null.");
        }
    }

    private RawPart ReadContentPart(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be a content part object such as {\"type\":\"text\",\"text\":\"...\"}.");
        string? type = null, text = null;
        ImageBlock? image = null;
        DocumentBlock? document = null;
        while (NextProperty(ref r))
        {
            if (Member(ref r, "type"u8, "type"))
                type = ReadString(ref r);
            else if (Member(ref r, "text"u8, "text"))
                text = ReadString(ref r);
            else if (Member(ref r, "refusal"u8, "refusal"))
                text = ReadString(ref r);
            else if (Member(ref r, "image_url"u8, "image_url"))
                image = ReadImageUrl(ref r);
            else if (Member(ref r, "file"u8, "file"))
                document = ReadFile(ref r);
            else
            {
                SkipValue(ref r);
                continue;
            }
            Leave();
        }
        switch (type)
        {
            case null:
                throw Fail("type is required (text, image_url or file).");
            case "text":
            case "refusal":
                if (text is null)
                    throw Fail($"a {type} part needs a string member \"{type}\".");
                return new RawPart(type == "text" ? PartKind.Text : PartKind.Refusal, new TextBlock(text));
            case "image_url":
                if (image is null)
                    throw Fail("an image_url part needs \"image_url\": {\"url\": \"data:image/png;base64,...\"}.");
                return new RawPart(PartKind.Image, image);
            case "file":
                if (document is null)
                    throw Fail("a file part needs \"file\": {\"file_data\": \"data:application/pdf;base64,...\", \"filename\": \"...\"}.");
                return new RawPart(PartKind.File, document);
            case "input_audio":
                throw Fail("input_audio parts are not supported; send text, image_url or file parts.");
            default:
                throw Fail($"the content part type '{type}' is not supported; use text, image_url or file.");
        }
    }

    private ImageBlock ReadImageUrl(ref Utf8JsonReader r)
    {
        // The official shape is {"url": ..., "detail": ...}; some clients send the URL string alone.
        if (r.TokenType == JsonTokenType.String)
            return ToImage(ReadDataUrl(ref r));
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be an object {\"url\": \"data:image/png;base64,...\"}.");
        ImageBlock? image = null;
        while (NextProperty(ref r))
        {
            if (!Member(ref r, "url"u8, "url"))
            {
                SkipValue(ref r);
                continue;
            }
            image = ToImage(ReadDataUrl(ref r));
            Leave();
        }
        return image ?? throw Fail("url is required.");
    }

    private ImageBlock ToImage(DataUrl url)
    {
        var format = url.MediaType switch
        {
            "image/png" => "png",
            "image/jpeg" or "image/jpg" => "jpeg",
            "image/gif" => "gif",
            "image/webp" => "webp",
            _ => throw Fail($"the image media type '{url.MediaType}' is not supported; use image/png, image/jpeg, image/gif or image/webp."),
        };
        return new ImageBlock(format, url.Bytes);
    }

    private DocumentBlock ReadFile(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be an object {\"file_data\": \"data:application/pdf;base64,...\", \"filename\": \"...\"}.");
        DataUrl? data = null;
        string? filename = null;
        while (NextProperty(ref r))
        {
            if (Member(ref r, "file_data"u8, "file_data"))
                data = ReadDataUrl(ref r);
            else if (Member(ref r, "filename"u8, "filename"))
                filename = ReadOptionalString(ref r);
            else if (Member(ref r, "file_id"u8, "file_id"))
                throw Fail("uploaded files are not supported; send the file inline as file_data (a base64 data: URL).");
            else
            {
                SkipValue(ref r);
                continue;
            }
            Leave();
        }
        if (data is null)
            throw Fail("file_data is required (a base64 data: URL such as data:application/pdf;base64,...).");
        var extension = filename is null ? "" : Path.GetExtension(filename).TrimStart('.').ToLowerInvariant();
        var format = data.Value.MediaType switch
        {
            "application/pdf" => "pdf",
            "text/plain" => "txt",
            "text/csv" => "csv",
            "text/html" => "html",
            "text/markdown" => "md",
            "application/msword" => "doc",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
            "application/vnd.ms-excel" => "xls",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
            _ when extension is "pdf" or "txt" or "csv" or "html" or "md" or "doc" or "docx" or "xls" or "xlsx" => extension,
            _ => throw FailAt(CurrentPath() + ".file_data", $"the document media type '{data.Value.MediaType}' is not supported; use pdf, csv, doc, docx, xls, xlsx, html, txt or md."),
        };
        var name = filename is null ? "document" : Path.GetFileNameWithoutExtension(filename);
        return new DocumentBlock(format, name.Length == 0 ? "document" : name, data.Value.Bytes);
    }

    /// <summary>Decodes a base64 data: URL straight from the reader's UTF-8 bytes, without a UTF-16 copy of the payload.</summary>
    private DataUrl ReadDataUrl(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.String)
            throw Fail("must be a string holding a data: URL (data:<media type>;base64,<data>).");
        var length = r.HasValueSequence ? checked((int)r.ValueSequence.Length) : r.ValueSpan.Length;
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var url = rented.AsSpan(0, r.CopyString(rented));
            if (!url.StartsWith("data:"u8))
                throw Fail("only data: URLs (data:<media type>;base64,<data>) are accepted; Basalt does not fetch remote URLs, so inline the bytes as base64.");
            var comma = url.IndexOf((byte)',');
            if (comma < 0)
                throw Fail("the data: URL has no ',' before its data; expected data:<media type>;base64,<data>.");
            var header = url[5..comma];
            if (!header.EndsWith(";base64"u8))
                throw Fail("the data: URL must be base64-encoded: data:<media type>;base64,<data>.");
            var mediaType = Encoding.UTF8.GetString(header[..^7]).ToLowerInvariant();
            var payload = url[(comma + 1)..];
            var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(payload.Length)];
            if (Base64.DecodeFromUtf8(payload, bytes, out _, out var written) != OperationStatus.Done)
                throw Fail("the data: URL's base64 data is invalid.");
            if (written == 0)
                throw Fail("the data: URL holds no data.");
            return new DataUrl(mediaType, bytes.AsMemory(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private List<ToolUseBlock> ReadToolCalls(ref Utf8JsonReader r)
    {
        var calls = new List<ToolUseBlock>();
        if (r.TokenType == JsonTokenType.Null)
            return calls;
        if (r.TokenType != JsonTokenType.StartArray)
            throw Fail("must be an array of tool calls.");
        while (NextItem(ref r, calls.Count))
        {
            calls.Add(ReadToolCall(ref r));
            Leave();
        }
        return calls;
    }

    private ToolUseBlock ReadToolCall(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be an object {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}.");
        string? id = null, name = null;
        JsonElement? input = null;
        while (NextProperty(ref r))
        {
            if (Member(ref r, "id"u8, "id"))
                id = ReadString(ref r);
            else if (Member(ref r, "type"u8, "type"))
            {
                var type = ReadString(ref r);
                if (type != "function")
                    throw Fail($"'{type}' is not supported; tool calls must have type \"function\".");
            }
            else if (Member(ref r, "function"u8, "function"))
            {
                if (r.TokenType != JsonTokenType.StartObject)
                    throw Fail("must be an object {\"name\", \"arguments\"}.");
                while (NextProperty(ref r))
                {
                    if (Member(ref r, "name"u8, "name"))
                        name = ReadString(ref r);
                    else if (Member(ref r, "arguments"u8, "arguments"))
                        input = ParseArguments(ReadString(ref r));
                    else
                    {
                        SkipValue(ref r);
                        continue;
                    }
                    Leave();
                }
                if (name is null)
                    throw Fail("name is required.");
            }
            else
            {
                SkipValue(ref r);
                continue;
            }
            Leave();
        }
        if (string.IsNullOrEmpty(id))
            throw Fail("id is required; echo the id of the tool call the model returned.");
        if (name is null)
            throw Fail("function is required.");
        return new ToolUseBlock(id, name, input ?? EmptyArguments);
    }

    private JsonElement ParseArguments(string arguments)
    {
        // Some clients send "" for a call without arguments.
        if (string.IsNullOrWhiteSpace(arguments))
            return EmptyArguments;
        try
        {
            using var doc = JsonDocument.Parse(arguments);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw Fail("is not valid JSON (" + e.Message + "); send the arguments as a JSON-encoded string.");
        }
    }

    // ---- tools ----------------------------------------------------------------------------------------------------

    private List<ToolSpecification>? ReadTools(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null)
            return null;
        if (r.TokenType != JsonTokenType.StartArray)
            throw Fail("must be an array of tools.");
        var tools = new List<ToolSpecification>();
        while (NextItem(ref r, tools.Count))
        {
            var tool = ReadTool(ref r);
            foreach (var t in tools)
                if (t.Name == tool.Name)
                    throw Fail($"the function name '{tool.Name}' is used by two tools; tool names must be unique.");
            tools.Add(tool);
            Leave();
        }
        return tools;
    }

    private ToolSpecification ReadTool(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be an object {\"type\": \"function\", \"function\": {\"name\", \"description\", \"parameters\"}}.");
        string? type = null, name = null, description = null;
        JsonElement? parameters = null;
        while (NextProperty(ref r))
        {
            if (Member(ref r, "type"u8, "type"))
                type = ReadString(ref r);
            else if (Member(ref r, "function"u8, "function"))
            {
                if (r.TokenType != JsonTokenType.StartObject)
                    throw Fail("must be an object {\"name\", \"description\", \"parameters\"}.");
                while (NextProperty(ref r))
                {
                    if (Member(ref r, "name"u8, "name"))
                    {
                        name = ReadString(ref r);
                        if (!IsValidToolName(name))
                            throw Fail($"'{name}' is not a valid function name; use 1 to {MaxToolNameLength} letters, digits, '_' or '-'.");
                    }
                    else if (Member(ref r, "description"u8, "description"))
                        description = ReadOptionalString(ref r);
                    else if (Member(ref r, "parameters"u8, "parameters"))
                    {
                        if (r.TokenType == JsonTokenType.Null)
                            parameters = null;
                        else if (r.TokenType != JsonTokenType.StartObject)
                            throw Fail("must be a JSON Schema object.");
                        else
                            parameters = JsonElement.ParseValue(ref r);
                    }
                    else
                    {
                        SkipValue(ref r);
                        continue;
                    }
                    Leave();
                }
                if (name is null)
                    throw Fail("name is required.");
            }
            else
            {
                SkipValue(ref r);
                continue;
            }
            Leave();
        }
        if (type is not null and not "function")
            throw Fail($"the tool type '{type}' is not supported; use \"function\".");
        if (name is null)
            throw Fail("function is required.");
        return new ToolSpecification(name, description, parameters ?? EmptyObjectSchema);
    }

    private static bool IsValidToolName(string name)
    {
        if (name.Length is 0 or > MaxToolNameLength)
            return false;
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                return false;
        return true;
    }

    private RawToolChoice? ReadToolChoice(ref Utf8JsonReader r)
    {
        const string Expected = "must be \"none\", \"auto\", \"required\", or {\"type\": \"function\", \"function\": {\"name\": \"...\"}}.";
        switch (r.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return ReadString(ref r) switch
                {
                    "none" => new RawToolChoice(ToolChoiceKind.None, null),
                    "auto" => new RawToolChoice(ToolChoiceKind.Auto, null),
                    "required" => new RawToolChoice(ToolChoiceKind.Any, null),
                    _ => throw Fail(Expected),
                };
            case JsonTokenType.StartObject:
                string? type = null, name = null;
                while (NextProperty(ref r))
                {
                    if (Member(ref r, "type"u8, "type"))
                        type = ReadString(ref r);
                    else if (Member(ref r, "function"u8, "function"))
                    {
                        if (r.TokenType != JsonTokenType.StartObject)
                            throw Fail("must be an object {\"name\": \"...\"}.");
                        while (NextProperty(ref r))
                        {
                            if (!Member(ref r, "name"u8, "name"))
                            {
                                SkipValue(ref r);
                                continue;
                            }
                            name = ReadString(ref r);
                            Leave();
                        }
                    }
                    else
                    {
                        SkipValue(ref r);
                        continue;
                    }
                    Leave();
                }
                if (type != "function" || name is null)
                    throw Fail(Expected);
                return new RawToolChoice(ToolChoiceKind.Tool, name);
            default:
                throw Fail(Expected);
        }
    }

    private ToolConfig? ToToolConfig(List<ToolSpecification>? tools, RawToolChoice? choice)
    {
        if (tools is null || tools.Count == 0)
        {
            if (choice is { Kind: ToolChoiceKind.Any or ToolChoiceKind.Tool })
                throw FailAt("tool_choice", "requires tools; add the function to tools or drop tool_choice.");
            return null;
        }
        if (choice is { Kind: ToolChoiceKind.Tool } named && !tools.Exists(t => t.Name == named.Name))
            throw FailAt("tool_choice.function.name", $"'{named.Name}' is not one of the tools given.");
        var native = choice?.Kind switch
        {
            null => null,
            ToolChoiceKind.Auto => ToolChoice.Auto,
            ToolChoiceKind.Any => ToolChoice.Any,
            ToolChoiceKind.None => new ToolChoice(ToolChoiceKind.None),
            _ => new ToolChoice(ToolChoiceKind.Tool, choice.Name),
        };
        return new ToolConfig(tools, native);
    }

    // ---- other members --------------------------------------------------------------------------------------------

    private ResponseFormat? ReadResponseFormat(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null)
            return null;
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be an object {\"type\": \"text\" | \"json_object\" | \"json_schema\"}.");
        string? type = null, name = null;
        JsonElement? schema = null;
        var strict = false;
        var hasJsonSchema = false;
        while (NextProperty(ref r))
        {
            if (Member(ref r, "type"u8, "type"))
                type = ReadString(ref r);
            else if (Member(ref r, "json_schema"u8, "json_schema"))
            {
                if (r.TokenType != JsonTokenType.StartObject)
                    throw Fail("must be an object {\"name\", \"schema\", \"strict\"}.");
                hasJsonSchema = true;
                while (NextProperty(ref r))
                {
                    if (Member(ref r, "name"u8, "name"))
                        name = ReadString(ref r);
                    else if (Member(ref r, "schema"u8, "schema"))
                    {
                        if (r.TokenType != JsonTokenType.StartObject)
                            throw Fail("must be a JSON Schema object.");
                        schema = JsonElement.ParseValue(ref r);
                    }
                    else if (Member(ref r, "strict"u8, "strict"))
                        strict = ReadOptionalBool(ref r) ?? false;
                    else
                    {
                        SkipValue(ref r);
                        continue;
                    }
                    Leave();
                }
            }
            else
            {
                SkipValue(ref r);
                continue;
            }
            Leave();
        }
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                return new ResponseFormat("json_object");
            case "json_schema":
                if (!hasJsonSchema)
                    throw FailAt(CurrentPath() + ".json_schema", "is required when type is json_schema.");
                if (string.IsNullOrEmpty(name))
                    throw FailAt(CurrentPath() + ".json_schema.name", "is required.");
                return new ResponseFormat("json_schema", name, schema, strict);
            case null:
                throw FailAt(CurrentPath() + ".type", "is required: text, json_object or json_schema.");
            default:
                throw FailAt(CurrentPath() + ".type", $"'{type}' is not supported; use text, json_object or json_schema.");
        }
    }

    private bool ReadStreamOptions(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null)
            return false;
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be an object {\"include_usage\": true}.");
        var includeUsage = false;
        while (NextProperty(ref r))
        {
            if (!Member(ref r, "include_usage"u8, "include_usage"))
            {
                SkipValue(ref r);
                continue;
            }
            includeUsage = ReadOptionalBool(ref r) ?? false;
            Leave();
        }
        return includeUsage;
    }

    private List<string>? ReadStop(ref Utf8JsonReader r)
    {
        switch (r.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                var one = ReadString(ref r);
                return one.Length == 0 ? null : [one];
            case JsonTokenType.StartArray:
                var list = new List<string>();
                var i = 0;
                while (NextItem(ref r, i++))
                {
                    var s = ReadString(ref r);
                    if (s.Length > 0)
                        list.Add(s);
                    Leave();
                }
                if (list.Count > MaxStopSequences)
                    throw Fail($"at most {MaxStopSequences} stop sequences are allowed; got {list.Count}.");
                return list;
            default:
                throw Fail("must be a string, an array of strings, or null.");
        }
    }

    private Dictionary<string, string>? ReadMetadata(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null)
            return null;
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail("must be an object of string values.");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        while (NextProperty(ref r))
        {
            var key = ReadPropertyName(ref r);
            r.Read();
            if (r.TokenType != JsonTokenType.String)
                throw FailAt(CurrentPath() + "." + key, "must be a string.");
            metadata[key] = ReadString(ref r);
        }
        if (metadata.Count > MaxMetadataPairs)
            throw Fail($"at most {MaxMetadataPairs} pairs are allowed; got {metadata.Count}.");
        return metadata;
    }

    // ---- OpenAI messages -> Converse turns ---------------------------------------------------------------------------

    private (List<ContentBlock> System, List<Message> Turns) ToConversation(List<RawMessage> messages)
    {
        var system = new List<ContentBlock>();
        var turns = new List<Message>();
        List<ContentBlock>? current = null;
        var currentRole = ConversationRole.User;
        HashSet<string>? toolCallIds = null;

        void Append(ConversationRole role, ContentBlock block)
        {
            // Converse requires alternating turns: consecutive OpenAI messages of one side (tool results, or a
            // tool result followed by a user message) merge into one turn.
            if (current is null || currentRole != role)
            {
                current = [];
                currentRole = role;
                turns.Add(new Message(role, current));
            }
            current.Add(block);
        }

        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var at = "messages[" + i + "]";
            switch (m.Role)
            {
                case null:
                    throw FailAt(at + ".role", "is required: system, developer, user, assistant or tool.");
                case "system":
                case "developer":
                    foreach (var block in TextOnly(m, at, m.Role))
                        system.Add(block);
                    break;
                case "user":
                    if (m.Text is not null)
                        Append(ConversationRole.User, new TextBlock(m.Text));
                    else if (m.Parts is not null)
                    {
                        for (var j = 0; j < m.Parts.Count; j++)
                        {
                            if (m.Parts[j].Kind == PartKind.Refusal)
                                throw FailAt($"{at}.content[{j}]", "refusal parts are only allowed in assistant messages.");
                            Append(ConversationRole.User, m.Parts[j].Block);
                        }
                    }
                    else
                        throw FailAt(at + ".content", "is required for a user message.");
                    break;
                case "assistant":
                    var any = false;
                    if (m.Text is not null)
                    {
                        if (m.Text.Length > 0 || m.ToolCalls is not { Count: > 0 })
                            Append(ConversationRole.Assistant, new TextBlock(m.Text));
                        any = true;
                    }
                    else if (m.Parts is not null)
                    {
                        for (var j = 0; j < m.Parts.Count; j++)
                        {
                            if (m.Parts[j].Kind is PartKind.Image or PartKind.File)
                                throw FailAt($"{at}.content[{j}]", "assistant messages may hold only text and refusal parts.");
                            Append(ConversationRole.Assistant, m.Parts[j].Block);
                            any = true;
                        }
                    }
                    if (m.Refusal is { Length: > 0 } && m.Text is null && m.Parts is null)
                    {
                        Append(ConversationRole.Assistant, new TextBlock(m.Refusal));
                        any = true;
                    }
                    if (m.ToolCalls is not null)
                    {
                        foreach (var call in m.ToolCalls)
                        {
                            Append(ConversationRole.Assistant, call);
                            (toolCallIds ??= new HashSet<string>(StringComparer.Ordinal)).Add(call.ToolUseId);
                            any = true;
                        }
                    }
                    if (!any)
                        throw FailAt(at + ".content", "is required for an assistant message without tool_calls.");
                    break;
                case "tool":
                    if (string.IsNullOrEmpty(m.ToolCallId))
                        throw FailAt(at + ".tool_call_id", "is required for a tool message: the id of the tool call it answers.");
                    if (toolCallIds is null || !toolCallIds.Contains(m.ToolCallId))
                        throw FailAt(at + ".tool_call_id", $"'{m.ToolCallId}' does not match any tool call of a preceding assistant message.");
                    var content = new List<ToolResultContent>();
                    foreach (var block in TextOnly(m, at, "tool"))
                        content.Add(new ToolResultText(((TextBlock)block).Text));
                    Append(ConversationRole.User, new ToolResultBlock(m.ToolCallId, content));
                    break;
                case "function":
                    throw FailAt(at + ".role", "'function' messages are deprecated; send the result as role \"tool\" with tool_call_id.");
                default:
                    throw FailAt(at + ".role", $"'{m.Role}' is not a role; use system, developer, user, assistant or tool.");
            }
        }
        return (system, turns);
    }

    /// <summary>The text of a message whose content may only be text (system, developer, tool).</summary>
    private List<ContentBlock> TextOnly(RawMessage m, string at, string role)
    {
        if (m.Text is not null)
            return [new TextBlock(m.Text)];
        if (m.Parts is null)
            throw FailAt(at + ".content", $"is required for a {role} message.");
        var blocks = new List<ContentBlock>(m.Parts.Count);
        for (var j = 0; j < m.Parts.Count; j++)
        {
            if (m.Parts[j].Kind != PartKind.Text)
                throw FailAt($"{at}.content[{j}]", $"{role} messages may hold only text parts.");
            blocks.Add(m.Parts[j].Block);
        }
        return blocks;
    }

    // ---- reader helpers -------------------------------------------------------------------------------------------

    /// <summary>Advances to the next property name of the current object; false at its end.</summary>
    private static bool NextProperty(ref Utf8JsonReader r)
    {
        r.Read();
        return r.TokenType == JsonTokenType.PropertyName;
    }

    /// <summary>Advances to the next item of the current array and enters its path segment; false at its end.</summary>
    private bool NextItem(ref Utf8JsonReader r, int index)
    {
        r.Read();
        if (r.TokenType == JsonTokenType.EndArray)
            return false;
        Push(new Segment(null, index));
        return true;
    }

    /// <summary>When the current property is <paramref name="utf8"/>, moves to its value and enters its path segment.</summary>
    private bool Member(ref Utf8JsonReader r, ReadOnlySpan<byte> utf8, string name)
    {
        if (!r.ValueTextEquals(utf8))
            return false;
        r.Read();
        Push(new Segment(name, 0));
        return true;
    }

    private static void SkipValue(ref Utf8JsonReader r)
    {
        r.Read();
        r.Skip();
    }

    private void Push(Segment segment)
    {
        if (_depth == MaxPathDepth)
            throw new OpenAiRequestException(null, "The request nests deeper than Basalt reads.");
        _path[_depth++] = segment;
    }

    private void Leave() => _depth--;

    private string ReadString(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.String)
            throw Fail("must be a string.");
        try
        {
            return r.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Fail("is not valid UTF-8; encode the request body as UTF-8.");
        }
    }

    private string ReadPropertyName(ref Utf8JsonReader r)
    {
        try
        {
            return r.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Fail("has a property name that is not valid UTF-8; encode the request body as UTF-8.");
        }
    }

    private string? ReadOptionalString(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : ReadString(ref r);

    private bool? ReadOptionalBool(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw Fail("must be a boolean."),
    };

    private double? ReadOptionalNumber(ref Utf8JsonReader r, double min, double max)
    {
        if (r.TokenType == JsonTokenType.Null)
            return null;
        if (r.TokenType != JsonTokenType.Number || !r.TryGetDouble(out var value))
            throw Fail("must be a number.");
        if (value < min || value > max)
            throw Fail($"must be between {min} and {max}; got {value}.");
        return value;
    }

    private long? ReadOptionalInteger(ref Utf8JsonReader r, long min, long max)
    {
        if (r.TokenType == JsonTokenType.Null)
            return null;
        if (r.TokenType != JsonTokenType.Number)
            throw Fail("must be an integer.");
        if (!r.TryGetInt64(out var value))
        {
            // 5.0 is an integer to JSON Schema; 5.5 and 1e30 are not.
            if (!r.TryGetDouble(out var d) || d != Math.Floor(d) || d < long.MinValue || d > long.MaxValue)
                throw Fail("must be an integer.");
            value = (long)d;
        }
        if (value < min || value > max)
            throw Fail(max == int.MaxValue ? $"must be at least {min}; got {value}." : $"must be between {min} and {max}; got {value}.");
        return value;
    }

    private string CurrentPath()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < _depth; i++)
        {
            var s = _path[i];
            if (s.Name is null)
                sb.Append('[').Append(s.Index).Append(']');
            else
            {
                if (sb.Length > 0)
                    sb.Append('.');
                sb.Append(s.Name);
            }
        }
        return sb.ToString();
    }

    private OpenAiRequestException Fail(string detail)
    {
        var path = CurrentPath();
        return path.Length == 0 ? new OpenAiRequestException(null, detail) : FailAt(path, detail);
    }

    private static OpenAiRequestException FailAt(string path, string detail) => new(path, path + ": " + detail);

    private readonly record struct Segment(string? Name, int Index);

    private readonly record struct DataUrl(string MediaType, ReadOnlyMemory<byte> Bytes);

    private readonly record struct RawPart(PartKind Kind, ContentBlock Block);

    private sealed record RawToolChoice(ToolChoiceKind Kind, string? Name);

    private enum PartKind
    {
        Text,
        Refusal,
        Image,
        File,
    }

    /// <summary>One OpenAI message as read; its role may come after its content, so it is translated once whole.</summary>
    private sealed class RawMessage
    {
        public string? Role;
        public string? Text;
        public List<RawPart>? Parts;
        public List<ToolUseBlock>? ToolCalls;
        public string? ToolCallId;
        public string? Refusal;
    }
}
