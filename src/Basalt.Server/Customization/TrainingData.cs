using System.Text;
using System.Text.Json;

namespace Basalt.Server.Customization;

/// <summary>The kinds of customization job Basalt runs (Bedrock's CustomizationType values).</summary>
public static class CustomizationTypes
{
    /// <summary>Supervised fine-tuning on prompt/completion pairs or conversations.</summary>
    public const string FineTuning = "FINE_TUNING";
    /// <summary>Next-token training on plain text.</summary>
    public const string ContinuedPreTraining = "CONTINUED_PRE_TRAINING";
    /// <summary>A teacher model answers the prompts; the student is fine-tuned on its answers.</summary>
    public const string Distillation = "DISTILLATION";

    /// <summary>Every type Basalt runs.</summary>
    public static readonly string[] All = [FineTuning, ContinuedPreTraining, Distillation];
}

/// <summary>One turn of a training conversation.</summary>
public sealed record TrainingTurn(string Role, string Text);

/// <summary>One record of a training file: plain text (continued pre-training) or a conversation whose last assistant turn
/// is the target (fine-tuning; for distillation prompts the target is absent until the teacher answers).</summary>
/// <param name="Line">1-based line of the record in its file.</param>
/// <param name="Input">The text of a continued pre-training record.</param>
/// <param name="System">The system prompt of a conversation, or null.</param>
/// <param name="Turns">The turns before the target, oldest first.</param>
/// <param name="Completion">The target assistant text, or null.</param>
public sealed record TrainingRecord(int Line, string? Input, string? System, IReadOnlyList<TrainingTurn> Turns, string? Completion);

/// <summary>A training or validation file has a bad record; the message names the file and line.</summary>
public sealed class TrainingDataException(string file, int line, string problem)
    : Exception(line > 0 ? $"{file} line {line}: {problem}" : $"{file}: {problem}")
{
    /// <summary>The file.</summary>
    public string File { get; } = file;
    /// <summary>The 1-based line, or 0 for the whole file.</summary>
    public int Line { get; } = line;
}

/// <summary>Reads Bedrock's customization JSONL formats: {"prompt","completion"} and bedrock-conversation-2024 records for
/// fine-tuning, {"input"} for continued pre-training, conversation records (or {"prompt"}) for distillation prompts.</summary>
public static class TrainingDataReader
{
    /// <summary>The schema version of Bedrock's conversation records.</summary>
    public const string ConversationSchema = "bedrock-conversation-2024";

    /// <summary>Largest training file read (protects the server's memory).</summary>
    public const long MaxFileBytes = 1L << 30;

    /// <summary>Most records of one file.</summary>
    public const int MaxRecords = 1_000_000;

    /// <summary>Longest line, in characters.</summary>
    public const int MaxLineChars = 4 * 1024 * 1024;

    /// <summary>Reads and validates every record of <paramref name="path"/> for a job of <paramref name="customizationType"/>.</summary>
    public static IReadOnlyList<TrainingRecord> Read(string path, string customizationType)
    {
        var name = System.IO.Path.GetFileName(path);
        if (!File.Exists(path))
            throw new TrainingDataException(path, 0, "the file does not exist.");
        var size = new FileInfo(path).Length;
        if (size > MaxFileBytes)
            throw new TrainingDataException(name, 0, $"the file is {size} bytes; the limit is {MaxFileBytes}.");
        var records = new List<TrainingRecord>();
        using var reader = new StreamReader(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var lineNumber = 0;
        string? line;
        while (true)
        {
            try
            {
                line = reader.ReadLine();
            }
            catch (DecoderFallbackException)
            {
                throw new TrainingDataException(name, lineNumber + 1, "the line is not valid UTF-8.");
            }
            if (line is null)
                break;
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            if (line.Length > MaxLineChars)
                throw new TrainingDataException(name, lineNumber, $"the line is {line.Length} characters; the limit is {MaxLineChars}.");
            if (records.Count == MaxRecords)
                throw new TrainingDataException(name, lineNumber, $"the file has more than {MaxRecords} records.");
            records.Add(Parse(name, lineNumber, line, customizationType));
        }
        if (records.Count == 0)
            throw new TrainingDataException(name, 0, "the file has no records; write one JSON object per line.");
        return records;
    }

    /// <summary>Parses one JSONL line.</summary>
    public static TrainingRecord Parse(string file, int line, string json, string customizationType)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new TrainingDataException(file, line, $"not valid JSON ({e.Message.Split(" LineNumber", 2)[0]}).");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TrainingDataException(file, line, "expected a JSON object.");
            return customizationType switch
            {
                CustomizationTypes.ContinuedPreTraining => new TrainingRecord(line, RequiredText(file, line, root, "input", "{\"input\": \"...\"}"), null, [], null),
                CustomizationTypes.Distillation => ParsePrompt(file, line, root),
                _ => ParseFineTuning(file, line, root),
            };
        }
    }

    private static TrainingRecord ParseFineTuning(string file, int line, JsonElement root)
    {
        if (root.TryGetProperty("messages", out _))
        {
            var (system, turns) = ParseConversation(file, line, root);
            if (turns[^1].Role != "assistant")
                throw new TrainingDataException(file, line, "the last message must be the assistant's reply the model learns to give.");
            return new TrainingRecord(line, null, system, turns.Take(turns.Count - 1).ToList(), turns[^1].Text);
        }
        var prompt = RequiredText(file, line, root, "prompt", "{\"prompt\": \"...\", \"completion\": \"...\"} or a bedrock-conversation-2024 record");
        var completion = RequiredText(file, line, root, "completion", "{\"prompt\": \"...\", \"completion\": \"...\"}");
        return new TrainingRecord(line, null, null, [new TrainingTurn("user", prompt)], completion);
    }

    private static TrainingRecord ParsePrompt(string file, int line, JsonElement root)
    {
        if (!root.TryGetProperty("messages", out _))
            return new TrainingRecord(line, null, null,
                [new TrainingTurn("user", RequiredText(file, line, root, "prompt", "a bedrock-conversation-2024 record or {\"prompt\": \"...\"}"))], null);
        var (system, turns) = ParseConversation(file, line, root);
        // A distillation record may carry a reference answer; the teacher's answer replaces it.
        if (turns[^1].Role == "assistant")
            turns.RemoveAt(turns.Count - 1);
        if (turns.Count == 0 || turns[^1].Role != "user")
            throw new TrainingDataException(file, line, "a distillation prompt must end with a user message for the teacher to answer.");
        return new TrainingRecord(line, null, system, turns, null);
    }

    private static (string? System, List<TrainingTurn> Turns) ParseConversation(string file, int line, JsonElement root)
    {
        if (root.TryGetProperty("schemaVersion", out var schema) && (schema.ValueKind != JsonValueKind.String || schema.GetString() != ConversationSchema))
            throw new TrainingDataException(file, line, $"schemaVersion must be \"{ConversationSchema}\".");
        string? system = null;
        if (root.TryGetProperty("system", out var sys))
        {
            if (sys.ValueKind != JsonValueKind.Array)
                throw new TrainingDataException(file, line, "system must be an array of {\"text\": \"...\"} blocks.");
            system = JoinText(file, line, sys, "system");
            if (system.Length == 0)
                system = null;
        }
        var messages = root.GetProperty("messages");
        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
            throw new TrainingDataException(file, line, "messages must be a non-empty array of {\"role\", \"content\"} objects.");
        var turns = new List<TrainingTurn>();
        var index = 0;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw new TrainingDataException(file, line, $"messages[{index}] must be an object with a role.");
            var r = role.GetString();
            if (r is not ("user" or "assistant"))
                throw new TrainingDataException(file, line, $"messages[{index}].role must be \"user\" or \"assistant\", not \"{r}\".");
            if (turns.Count > 0 && turns[^1].Role == r)
                throw new TrainingDataException(file, line, $"messages[{index}]: roles must alternate between user and assistant.");
            if (turns.Count == 0 && r != "user")
                throw new TrainingDataException(file, line, "messages[0] must be a user message.");
            if (!m.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
                throw new TrainingDataException(file, line, $"messages[{index}].content must be an array of {{\"text\": \"...\"}} blocks.");
            var text = JoinText(file, line, content, $"messages[{index}].content");
            if (string.IsNullOrWhiteSpace(text))
                throw new TrainingDataException(file, line, $"messages[{index}] has no text.");
            turns.Add(new TrainingTurn(r, text));
            index++;
        }
        return (system, turns);
    }

    private static string JoinText(string file, int line, JsonElement blocks, string where)
    {
        var sb = new StringBuilder();
        var i = 0;
        foreach (var b in blocks.EnumerateArray())
        {
            if (b.ValueKind != JsonValueKind.Object || !b.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                throw new TrainingDataException(file, line, $"{where}[{i}] must be a {{\"text\": \"...\"}} block (text only).");
            if (sb.Length > 0)
                sb.Append('\n');
            sb.Append(t.GetString());
            i++;
        }
        return sb.ToString();
    }

    private static string RequiredText(string file, int line, JsonElement root, string field, string expected)
    {
        if (!root.TryGetProperty(field, out var value))
            throw new TrainingDataException(file, line, $"missing the \"{field}\" field; expected {expected}.");
        if (value.ValueKind != JsonValueKind.String)
            throw new TrainingDataException(file, line, $"\"{field}\" must be a string.");
        var text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
            throw new TrainingDataException(file, line, $"\"{field}\" is empty.");
        return text;
    }

    /// <summary>Writes one conversation record (the format distillation stores the teacher's answers in).</summary>
    public static string ToConversationJson(TrainingRecord record)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("schemaVersion", ConversationSchema);
            w.WriteStartArray("system");
            if (record.System is not null)
            {
                w.WriteStartObject();
                w.WriteString("text", record.System);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("messages");
            foreach (var t in record.Turns)
                WriteMessage(w, t.Role, t.Text);
            if (record.Completion is not null)
                WriteMessage(w, "assistant", record.Completion);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteMessage(Utf8JsonWriter w, string role, string text)
    {
        w.WriteStartObject();
        w.WriteString("role", role);
        w.WriteStartArray("content");
        w.WriteStartObject();
        w.WriteString("text", text);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
