using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Auth;
using Basalt.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Tests.Fakes;

/// <summary>Endpoints under /test that the operations tests call through the real middleware (auth, metrics, errors) and the
/// real gateway pipeline, standing in for the faces; errors on /test paths use <see cref="TestErrorFormat"/>.</summary>
internal static class TestEndpoints
{
    /// <summary>Registers the /test error format first, so it never becomes the fallback of other paths.</summary>
    public static void AddServices(IServiceCollection services)
        => services.Insert(0, ServiceDescriptor.Singleton<IErrorFormat, TestErrorFormat>());

    /// <summary>Maps the endpoints; <paramref name="slowStarted"/> completes when GET /test/slow has begun.</summary>
    public static void Map(WebApplication app, TimeSpan? slowDelay = null, TaskCompletionSource? slowStarted = null)
    {
        app.MapGet("/test/whoami", (HttpContext c) => Results.Text(c.Features.Get<Caller>()?.KeyName ?? "(none)"));
        app.MapPost("/test/upload", async (HttpContext c) =>
        {
            using var ms = new MemoryStream();
            await c.Request.Body.CopyToAsync(ms);
            return Results.Text(ms.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        app.MapGet("/test/slow", async () =>
        {
            slowStarted?.TrySetResult();
            await Task.Delay(slowDelay ?? TimeSpan.FromSeconds(1));
            return Results.Text("done");
        });
        // Body: {"model": "...", "text": "...", "stream": false}; answers the reply text (streamed calls concatenate deltas).
        app.MapPost("/test/converse", async (HttpContext c, Gateway gateway) =>
        {
            using var doc = await JsonDocument.ParseAsync(c.Request.Body);
            var request = new ConverseRequest
            {
                ModelId = doc.RootElement.GetProperty("model").GetString()!,
                Messages = [new Message(ConversationRole.User, [new TextBlock(doc.RootElement.GetProperty("text").GetString()!)])],
            };
            if (doc.RootElement.TryGetProperty("stream", out var s) && s.GetBoolean())
            {
                var text = new System.Text.StringBuilder();
                await foreach (var e in gateway.Client.ConverseStreamAsync(request, c.RequestAborted))
                    if (e is ContentBlockDeltaEvent { Delta: TextDelta t })
                        text.Append(t.Text);
                return Results.Text(text.ToString());
            }
            var response = await gateway.Client.ConverseAsync(request, c.RequestAborted);
            return Results.Text(((TextBlock)response.Output.Content[0]).Text);
        });
    }
}

/// <summary>Error format of /test paths: status by kind and {"kind","message"}.</summary>
internal sealed class TestErrorFormat : IErrorFormat
{
    public bool Matches(PathString path) => path.StartsWithSegments("/test");

    public Task WriteAsync(HttpContext context, ErrorKind kind, string message)
    {
        context.Response.StatusCode = kind switch
        {
            ErrorKind.Validation => 400,
            ErrorKind.AccessDenied => 403,
            ErrorKind.ResourceNotFound => 404,
            _ => 500,
        };
        return context.Response.WriteAsJsonAsync(new { kind = kind.ToString(), message });
    }
}
