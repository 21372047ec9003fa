using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Basalt.Server.Operations;

/// <summary>Counts every request by face and status and times it (outermost, so refusals and errors count too).</summary>
internal sealed class RequestMetricsMiddleware(RequestDelegate next, ServerMetrics metrics, ILogger<RequestMetricsMiddleware> logger)
{
    /// <summary>The face label of a path: openai (/v1), ops (/healthz, /metrics) or bedrock (the rest).</summary>
    public static string FaceOf(PathString path)
    {
        if (path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase))
            return "openai";
        if (path.StartsWithSegments("/healthz", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase))
            return "ops";
        return "bedrock";
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(start);
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            metrics.RecordRequest(FaceOf(context.Request.Path), status, elapsed);
            OperationsLog.RequestServed(logger, context.Items[Hosting.RequestIdMiddleware.ItemKey] as string, context.Request.Method, context.Request.Path, status, elapsed.TotalMilliseconds);
        }
    }
}
