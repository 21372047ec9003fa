using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>Streamed chat completions as raw server-sent events.</summary>
public sealed class ChatStreamingTests
{
    private const string StreamRequest = """{"model":"scripted-model","stream":true,"messages":[{"role":"user","content":"one two"}]}""";

    [Fact]
    public async Task Stream_Text_IsSseChunksEndingWithDone()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();

        var (status, mediaType, text) = await OpenAiHttp.PostStreamAsync(client, StreamRequest);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/event-stream", mediaType);
        var data = OpenAiHttp.SseData(text);
        Assert.Equal("[DONE]", data[^1]);
        var chunks = data[..^1].Select(d => JsonDocument.Parse(d).RootElement).ToList();
        var id = chunks[0].GetProperty("id").GetString();
        Assert.StartsWith("chatcmpl-", id);
        Assert.All(chunks, c =>
        {
            Assert.Equal(id, c.GetProperty("id").GetString());
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal("scripted-model", c.GetProperty("model").GetString());
            Assert.False(c.TryGetProperty("usage", out _));
        });
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var content = new StringBuilder();
        foreach (var c in chunks)
            if (c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var piece))
                content.Append(piece.GetString());
        Assert.Equal("echo: one two", content.ToString());
        var last = chunks[^1].GetProperty("choices")[0];
        Assert.Equal("stop", last.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
    }

    [Fact]
    public async Task Stream_IncludeUsage_AddsAFinalChunkWithEmptyChoices()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();

        var (status, mediaType, text) = await OpenAiHttp.PostStreamAsync(client,
            """{"model":"scripted-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two"}]}""");

        var data = OpenAiHttp.SseData(text);
        Assert.Equal("[DONE]", data[^1]);
        var usageChunk = JsonDocument.Parse(data[^2]).RootElement;
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        var usage = usageChunk.GetProperty("usage");
        Assert.Equal(2, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("total_tokens").GetInt32());
        foreach (var d in data[..^2])
            Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(d).RootElement.GetProperty("usage").ValueKind);
    }

    [Fact]
    public async Task Stream_TextThenTwoToolCalls_ToolCallsNumberedFromZero()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant,
            [
                new TextBlock("Checking both."),
                new ToolUseBlock("tu_a", "lookup", JsonDocument.Parse("""{"q":"a"}""").RootElement.Clone()),
                new ToolUseBlock("tu_b", "lookup", JsonDocument.Parse("""{"q":"b"}""").RootElement.Clone()),
            ]),
            StopReason = StopReason.ToolUse,
            Usage = new TokenUsage(1, 1),
        };
        using var client = server.CreateClient();

        var (status, mediaType, text) = await OpenAiHttp.PostStreamAsync(client, StreamRequest);

        var ids = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        string? finish = null;
        foreach (var d in OpenAiHttp.SseData(text)[..^1])
        {
            var choice = JsonDocument.Parse(d).RootElement.GetProperty("choices")[0];
            if (choice.GetProperty("finish_reason").ValueKind == JsonValueKind.String)
                finish = choice.GetProperty("finish_reason").GetString();
            if (!choice.GetProperty("delta").TryGetProperty("tool_calls", out var calls))
                continue;
            foreach (var call in calls.EnumerateArray())
            {
                var index = call.GetProperty("index").GetInt32();
                if (call.TryGetProperty("id", out var id))
                    ids[index] = id.GetString()!;
                var fragment = call.GetProperty("function").GetProperty("arguments").GetString();
                (arguments.TryGetValue(index, out var sb) ? sb : arguments[index] = new StringBuilder()).Append(fragment);
            }
        }

        Assert.Equal("tu_a", ids[0]);
        Assert.Equal("tu_b", ids[1]);
        Assert.Equal("""{"q":"b"}""", arguments[1].ToString());
        Assert.Equal("tool_calls", finish);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Stream_UpstreamFailsAfterStart_EndsWithAnErrorEvent(bool expected)
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Stream = (_, ct) => FailingStream(expected, ct);
        using var client = server.CreateClient();

        var (status, mediaType, text) = await OpenAiHttp.PostStreamAsync(client, StreamRequest);

        Assert.Equal(HttpStatusCode.OK, status);
        var data = OpenAiHttp.SseData(text);
        Assert.DoesNotContain("[DONE]", data);
        Assert.Contains("partial", data[1]);
        var error = JsonDocument.Parse(data[^1]).RootElement.GetProperty("error");
        if (expected)
        {
            Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
            Assert.Equal("slow down", error.GetProperty("message").GetString());
        }
        else
        {
            Assert.Equal("server_error", error.GetProperty("type").GetString());
            Assert.DoesNotContain("kaboom", error.GetProperty("message").GetString());
        }
        // The server is still serving.
        var (after, _) = await OpenAiHttp.PostChatAsync(client, """{"model":"scripted-model","messages":[{"role":"user","content":"x"}]}""");
        Assert.Equal(HttpStatusCode.OK, after);
    }

    [Fact]
    public async Task Stream_FailureBeforeFirstEvent_IsAnOrdinaryHttpError()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => throw new BasaltException(ErrorKind.ServiceUnavailable, "upstream is down");
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.PostChatAsync(client, StreamRequest);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("upstream is down", OpenAiHttp.Error(body, "server_error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Stream_ClientDisconnects_UpstreamIsCancelled()
    {
        await using var server = await RunningServer.StartAsync();
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.Provider.Stream = (_, ct) => EndlessStream(cancelled, ct);
        using var client = server.CreateClient();

        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(StreamRequest, Encoding.UTF8, "application/json") })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
        }

        // Bounded wait: the upstream sees the cancellation as soon as the server notices the closed connection.
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(20));
    }

    private static async IAsyncEnumerable<ConverseStreamEvent> FailingStream(bool expected, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return new MessageStartEvent(ConversationRole.Assistant);
        yield return new ContentBlockDeltaEvent(0, new TextDelta("partial"));
        await Task.Yield();
        if (expected)
            throw new BasaltException(ErrorKind.Throttling, "slow down");
        throw new InvalidOperationException("kaboom");
    }

    private static async IAsyncEnumerable<ConverseStreamEvent> EndlessStream(TaskCompletionSource cancelled, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return new MessageStartEvent(ConversationRole.Assistant);
        while (true)
        {
            try
            {
                await Task.Delay(50, ct);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult();
                throw;
            }
            yield return new ContentBlockDeltaEvent(0, new TextDelta("more "));
        }
    }
}
