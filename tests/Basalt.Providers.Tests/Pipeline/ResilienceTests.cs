using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;
using Basalt.Core.Providers;
using Basalt.Providers.Tests.Fakes;
using Basalt.Providers.Tests.OpenAi;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Providers.Tests.Pipeline;

/// <summary>Retries and timeouts around a real provider talking to a loopback upstream.</summary>
public sealed class ResilienceTests
{
    private const string Completion = """
        {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}
        """;

    private static readonly string[] StreamOk =
    [
        """data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}""",
        """data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""",
        "data: [DONE]",
    ];

    private static IConverseClient Wrap(FakeUpstream upstream, int maxRetries = 2, double timeoutSeconds = 30)
        => new ConverseClientBuilder(OpenAiClientTests.Client(upstream))
            .UseRetries(new RetryOptions { MaxRetries = maxRetries, BaseDelay = TimeSpan.FromMilliseconds(5) })
            .UseTimeout(TimeSpan.FromSeconds(timeoutSeconds), "vllm")
            .Build();

    private static Task Error(HttpContext ctx, int status)
        => FakeUpstream.WriteJsonAsync(ctx, """{"error":{"message":"Rate limit reached","type":"requests"}}""", status);

    [Fact]
    public async Task ConverseAsync_429ThenSuccess_RetriesAndReturnsAnswer()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, n) => n == 0 ? Error(ctx, 429) : FakeUpstream.WriteJsonAsync(ctx, Completion));
        using var client = Wrap(upstream);

        var response = await client.ConverseAsync(OpenAiClientTests.Hello());

        Assert.Equal("ok", Assert.IsType<TextBlock>(response.Output.Content[0]).Text);
        Assert.Equal(2, upstream.Requests.Count);
    }

    [Fact]
    public async Task ConverseAsync_429WithRetryAfter_WaitsAsAskedBeforeRetrying()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, n) =>
        {
            if (n > 0)
                return FakeUpstream.WriteJsonAsync(ctx, Completion);
            ctx.Response.Headers.RetryAfter = "1";
            return Error(ctx, 429);
        });
        using var client = Wrap(upstream);
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();

        await client.ConverseAsync(OpenAiClientTests.Hello());

        // Our own backoff here is at most 5 ms; only the upstream's Retry-After explains a second's wait.
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {stopwatch.Elapsed}");
        Assert.Equal(2, upstream.Requests.Count);
    }

    [Fact]
    public async Task ConverseStreamAsync_503ThenSuccess_RetriesBeforeFirstEvent()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, n) => n == 0 ? Error(ctx, 503) : FakeUpstream.WriteSseAsync(ctx, StreamOk));
        using var client = Wrap(upstream);

        var events = await OpenAiClientTests.Collect(client.ConverseStreamAsync(OpenAiClientTests.Hello()));

        Assert.Equal(new ContentBlockDeltaEvent(0, new TextDelta("ok")), events[1]);
        Assert.Equal(2, upstream.Requests.Count);
    }

    [Fact]
    public async Task ConverseAsync_AlwaysThrottled_GivesUpAfterMaxRetriesWithThrottling()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => Error(ctx, 429));
        using var client = Wrap(upstream, maxRetries: 2);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(OpenAiClientTests.Hello()));

        Assert.Equal(ErrorKind.Throttling, ex.Kind);
        Assert.Equal(3, upstream.Requests.Count);
    }

    [Fact]
    public async Task ConverseAsync_400_DoesNotRetry()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => Error(ctx, 400));
        using var client = Wrap(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(OpenAiClientTests.Hello()));

        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task ConverseStreamAsync_ConnectionDropsAfterFirstEvent_FailsWithoutRetry()
    {
        var delivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, _, _) =>
        {
            await FakeUpstream.WriteSseAsync(ctx, [StreamOk[0]]);
            await delivered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            ctx.Abort();
        });
        using var client = Wrap(upstream);
        var seen = new List<ConverseStreamEvent>();

        var ex = await Assert.ThrowsAsync<BasaltException>(async () =>
        {
            await foreach (var e in client.ConverseStreamAsync(OpenAiClientTests.Hello()))
            {
                seen.Add(e);
                if (e is ContentBlockDeltaEvent)
                    delivered.TrySetResult();
            }
        });

        Assert.Equal(ErrorKind.ServiceUnavailable, ex.Kind);
        Assert.Contains(new ContentBlockDeltaEvent(0, new TextDelta("ok")), seen);
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task ConverseAsync_UpstreamSlowerThanTimeout_ThrowsModelTimeoutAndAbortsUpstream()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, _, _) =>
        {
            ctx.RequestAborted.Register(() => aborted.TrySetResult());
            await Task.Delay(TimeSpan.FromSeconds(30), ctx.RequestAborted);
        });
        // Long enough that a cold first request (JIT, connection set-up) reaches the upstream before the timeout.
        using var client = Wrap(upstream, timeoutSeconds: 2);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(OpenAiClientTests.Hello()));

        Assert.Equal(ErrorKind.ModelTimeout, ex.Kind);
        Assert.Contains("timeoutSeconds", ex.Message);
        Assert.Single(upstream.Requests);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ConverseStreamAsync_StallsAfterFirstChunk_ThrowsModelTimeout()
    {
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, _, _) =>
        {
            await FakeUpstream.WriteSseAsync(ctx, [StreamOk[0]]);
            await Task.Delay(TimeSpan.FromSeconds(30), ctx.RequestAborted);
        });
        using var client = Wrap(upstream, timeoutSeconds: 2);
        var seen = new List<ConverseStreamEvent>();

        var ex = await Assert.ThrowsAsync<BasaltException>(async () =>
        {
            await foreach (var e in client.ConverseStreamAsync(OpenAiClientTests.Hello()))
                seen.Add(e);
        });

        Assert.Equal(ErrorKind.ModelTimeout, ex.Kind);
        Assert.Equal(2, seen.Count);
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task ConverseAsync_CallerCancels_ThrowsCancellationAndAbortsUpstream()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, _, _) =>
        {
            ctx.RequestAborted.Register(() => aborted.TrySetResult());
            await Task.Delay(TimeSpan.FromSeconds(30), ctx.RequestAborted);
        });
        using var client = Wrap(upstream);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ConverseAsync(OpenAiClientTests.Hello(), cts.Token));

        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task ModelRouterCreate_ConfiguredOpenAiProvider_RetriesThroughRegisteredFactory()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, n) => n == 0 ? Error(ctx, 503) : FakeUpstream.WriteJsonAsync(ctx, Completion));
        var config = new BasaltConfig
        {
            Providers = new Dictionary<string, ProviderConfig>
            {
                ["vllm"] = new() { Type = "openai", BaseUrl = new Uri(upstream.BaseAddress, "v1").ToString(), MaxRetries = 1, TimeoutSeconds = 10 },
            },
            Models = [new ModelEntry { Id = "llama", Provider = "vllm", UpstreamName = "meta-llama/Llama-3-8B" }],
        };
        using var services = new ServiceCollection().AddBasaltProviders().BuildServiceProvider();
        using var router = ModelRouter.Create(config, services.GetServices<IProviderFactory>(), services);

        var response = await router.ConverseAsync(OpenAiClientTests.Hello() with { ModelId = "llama" });

        Assert.Equal(StopReason.EndTurn, response.StopReason);
        Assert.Equal(2, upstream.Requests.Count);
        Assert.Contains("\"model\":\"meta-llama/Llama-3-8B\"", upstream.Requests.Last().BodyText);
    }
}
