using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Basalt.Providers.Tests.Fakes;

/// <summary>A request the fake upstream received, as it came over the wire.</summary>
internal sealed record ReceivedRequest(string Method, string RawTarget, string Path, string Query, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>A real Kestrel server on 127.0.0.1 and a free port; each request is recorded, then answered by the handler
/// with the 0-based number of the request.</summary>
internal sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _count;

    private FakeUpstream(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<FakeUpstream> StartAsync(Func<HttpContext, ReceivedRequest, int, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var upstream = new FakeUpstream(app);
        app.Run(async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var feature = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!;
            var headers = new List<KeyValuePair<string, string>>();
            foreach (var (name, values) in context.Request.Headers)
                foreach (var value in values)
                    headers.Add(new(name, value ?? ""));
            var received = new ReceivedRequest(context.Request.Method, feature.RawTarget, feature.Path,
                context.Request.QueryString.Value?.TrimStart('?') ?? "", headers, buffer.ToArray());
            upstream.Requests.Enqueue(received);
            var n = Interlocked.Increment(ref upstream._count) - 1;
            await handler(context, received, n);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return upstream;
    }

    public static async Task WriteJsonAsync(HttpContext context, string json, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    }

    /// <summary>Writes server-sent events, flushing after each so the client sees them arrive one by one.</summary>
    public static async Task WriteSseAsync(HttpContext context, IEnumerable<string> events)
    {
        context.Response.ContentType = "text/event-stream";
        foreach (var e in events)
        {
            await context.Response.WriteAsync(e + "\n\n");
            await context.Response.Body.FlushAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
