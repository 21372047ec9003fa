using System.Text.Json;
using Basalt.Core.Conversation;

namespace Basalt.Core.Bedrock;

/// <summary>Typed access to request JSON that fails with a ValidationException naming the field
/// (for example "messages[0].content[1].text: expected a string, got a number").</summary>
internal static class JsonInput
{
    /// <summary>Parses a request body; malformed JSON becomes a ValidationException with its position.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> body)
    {
        if (body.IsEmpty)
            throw BasaltException.Validation("The request body is empty; send a JSON object.");
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
            throw BasaltException.Validation("The request body is not valid UTF-8.");
        try
        {
            return JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw BasaltException.Validation($"The request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {FirstSentence(e.Message)}");
        }
    }

    /// <summary>Deepest JSON nesting accepted (tool schemas and documents nest, but not without bound).</summary>
    public const int MaxDepth = 128;

    public static BasaltException Error(string path, string message) => BasaltException.Validation($"{path}: {message}");

    public static void RequireObject(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw Error(path, $"expected an object, got {Kind(e)}.");
    }

    public static JsonElement? Optional(JsonElement obj, string name)
        => obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement Required(JsonElement obj, string name, string path)
        => Optional(obj, name) ?? throw Error(Join(path, name), "is required.");

    public static string String(JsonElement e, string path, int min = 0, int max = int.MaxValue)
    {
        if (e.ValueKind != JsonValueKind.String)
            throw Error(path, $"expected a string, got {Kind(e)}.");
        var s = e.GetString()!;
        if (s.Length < min)
            throw Error(path, min == 1 ? "must not be empty." : $"must be at least {min} characters.");
        if (s.Length > max)
            throw Error(path, $"must be at most {max} characters (got {s.Length}).");
        return s;
    }

    public static string RequiredString(JsonElement obj, string name, string path, int min = 0, int max = int.MaxValue)
        => String(Required(obj, name, path), Join(path, name), min, max);

    public static string? OptionalString(JsonElement obj, string name, string path, int min = 0, int max = int.MaxValue)
        => Optional(obj, name) is { } v ? String(v, Join(path, name), min, max) : null;

    public static string Enum(JsonElement e, string path, params string[] allowed)
    {
        var s = String(e, path);
        foreach (var a in allowed)
            if (a == s)
                return s;
        throw Error(path, $"'{s}' is not one of {string.Join(", ", allowed)}.");
    }

    public static int Int(JsonElement e, string path, int min = int.MinValue, int max = int.MaxValue)
    {
        if (e.ValueKind != JsonValueKind.Number)
            throw Error(path, $"expected an integer, got {Kind(e)}.");
        if (!e.TryGetInt32(out var v))
            throw Error(path, $"expected an integer, got {e.GetRawText()}.");
        if (v < min)
            throw Error(path, $"must be at least {min} (got {v}).");
        if (v > max)
            throw Error(path, $"must be at most {max} (got {v}).");
        return v;
    }

    public static long Long(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out var v))
            throw Error(path, $"expected an integer, got {Kind(e)}.");
        return v;
    }

    public static float Float(JsonElement e, string path, float min, float max)
    {
        if (e.ValueKind != JsonValueKind.Number)
            throw Error(path, $"expected a number, got {Kind(e)}.");
        var v = e.GetDouble();
        if (double.IsNaN(v) || v < min || v > max)
            throw Error(path, $"must be between {min} and {max} (got {e.GetRawText()}).");
        return (float)v;
    }

    public static bool Bool(JsonElement e, string path)
        => e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(path, $"expected a boolean, got {Kind(e)}."),
        };

    public static void RequireArray(JsonElement e, string path, int min = 0, int max = int.MaxValue)
    {
        if (e.ValueKind != JsonValueKind.Array)
            throw Error(path, $"expected an array, got {Kind(e)}.");
        var n = e.GetArrayLength();
        if (n < min)
            throw Error(path, min == 1 ? "must not be empty." : $"must hold at least {min} items.");
        if (n > max)
            throw Error(path, $"must hold at most {max} items (got {n}).");
    }

    /// <summary>Decodes a base64 blob member.</summary>
    public static byte[] Base64(JsonElement e, string path, int minBytes = 0)
    {
        if (e.ValueKind != JsonValueKind.String)
            throw Error(path, $"expected a base64 string, got {Kind(e)}.");
        if (!e.TryGetBytesFromBase64(out var bytes))
            throw Error(path, "is not valid base64.");
        if (bytes.Length < minBytes)
            throw Error(path, "must not be empty.");
        return bytes;
    }

    /// <summary>The single member set on a union object (Bedrock unions set exactly one member).</summary>
    public static JsonProperty UnionMember(JsonElement e, string path, string what)
    {
        RequireObject(e, path);
        JsonProperty? found = null;
        foreach (var p in e.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Null)
                continue;
            if (found is not null)
                throw Error(path, $"{what} must set exactly one member, but sets both '{found.Value.Name}' and '{p.Name}'.");
            found = p;
        }
        return found ?? throw Error(path, $"{what} must set exactly one member; it is empty.");
    }

    public static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
