using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>Raw HTTP calls to the OpenAI face, for what an SDK would hide (status codes, error bodies, SSE framing).</summary>
internal static class OpenAiHttp
{
    public static Task<(HttpStatusCode Status, JsonElement Body)> PostChatAsync(HttpClient client, string json)
        => PostChatAsync(client, Encoding.UTF8.GetBytes(json));

    public static async Task<(HttpStatusCode Status, JsonElement Body)> PostChatAsync(HttpClient client, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync("v1/chat/completions", content);
        return (response.StatusCode, await ReadJsonAsync(response));
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        return (response.StatusCode, await ReadJsonAsync(response));
    }

    /// <summary>Posts a streamed request and returns the raw response text (the whole SSE stream).</summary>
    public static async Task<(HttpStatusCode Status, string? MediaType, string Text)> PostStreamAsync(HttpClient client, string json)
    {
        using var response = await client.PostAsync("v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The data payloads of an SSE stream, asserting OpenAI's framing: every event is one "data: " line and a blank line.</summary>
    public static List<string> SseData(string stream)
    {
        Assert.EndsWith("\n\n", stream);
        var events = stream[..^2].Split("\n\n");
        var data = new List<string>(events.Length);
        foreach (var e in events)
        {
            Assert.StartsWith("data: ", e);
            Assert.DoesNotContain('\n', e);
            data.Add(e["data: ".Length..]);
        }
        return data;
    }

    /// <summary>Asserts an OpenAI error body and returns its error object.</summary>
    public static JsonElement Error(JsonElement body, string type)
    {
        var error = body.GetProperty("error");
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error;
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
