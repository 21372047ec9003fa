using System.Collections;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Basalt.Core.Aws;
using Basalt.Core.Conversation;

namespace Basalt.Server.Tests.Bedrock;

/// <summary>Small helpers for calling the Bedrock face over real HTTP.</summary>
internal static class BedrockHttp
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<(HttpResponseMessage Response, JsonElement Body)> PostAsync(HttpClient client, string path, string json)
    {
        var response = await client.PostAsync(path, Json(json));
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        return (response, doc.RootElement.Clone());
    }

    public static async Task<(HttpResponseMessage Response, JsonElement Body)> PostBytesAsync(HttpClient client, string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await client.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        return (response, doc.RootElement.Clone());
    }

    /// <summary>Asserts a Bedrock error: status, x-amzn-ErrorType (as the AWS SDKs parse it) and a message.</summary>
    public static string AssertError(HttpResponseMessage response, JsonElement body, int status, string type)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.True(response.Headers.TryGetValues("x-amzn-ErrorType", out var values), "x-amzn-ErrorType header missing");
        var header = values.Single();
        Assert.Equal(type, header.Split(':')[0]);
        var message = body.GetProperty("message").GetString();
        Assert.False(string.IsNullOrWhiteSpace(message));
        return message!;
    }

    /// <summary>Posts and decodes an event-stream response with the project's decoder.</summary>
    public static async Task<List<EventStreamMessage>> StreamAsync(HttpClient client, string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/vnd.amazon.eventstream", response.Content.Headers.ContentType?.MediaType);
        await using var body = await response.Content.ReadAsStreamAsync();
        var messages = new List<EventStreamMessage>();
        await foreach (var m in EventStreamDecoder.ReadAllAsync(body))
            messages.Add(m);
        return messages;
    }

    public static JsonElement Payload(EventStreamMessage m)
    {
        using var doc = JsonDocument.Parse(m.Payload);
        return doc.RootElement.Clone();
    }

    /// <summary>The decoded JSON inside an invoke-stream chunk's base64 "bytes".</summary>
    public static JsonElement ChunkJson(EventStreamMessage m)
    {
        Assert.Equal("chunk", m.StringHeader(":event-type"));
        var bytes = Payload(m).GetProperty("bytes").GetBytesFromBase64();
        using var doc = JsonDocument.Parse(bytes);
        return doc.RootElement.Clone();
    }
}

/// <summary>Content whose second block throws, so a scripted stream fails after it began.</summary>
internal sealed class FaultingContent(ContentBlock first, BasaltException fault) : IReadOnlyList<ContentBlock>
{
    public ContentBlock this[int index] => index == 0 ? first : throw fault;

    public int Count => 2;

    public IEnumerator<ContentBlock> GetEnumerator()
    {
        yield return first;
        throw fault;
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
