using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Basalt.Server.Operations;

/// <summary>GET /healthz (no key) and GET /metrics (Prometheus text; needs a key, since it names keys and models).</summary>
internal static class OperationsEndpoints
{
    /// <summary>Prometheus text exposition content type.</summary>
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("{\"status\":\"ok\"}", "application/json"));
        app.MapGet("/metrics", (ServerMetrics metrics) => Results.Text(metrics.ToPrometheusText(), PrometheusContentType));
        return app;
    }
}
