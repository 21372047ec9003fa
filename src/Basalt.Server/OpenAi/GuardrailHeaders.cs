using Basalt.Core.Conversation;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.OpenAi;

/// <summary>How an OpenAI client asks for a guardrail (OpenAI's API has no such field): the header
/// "x-basalt-guardrail: ID:VERSION" (ID an id or ARN, VERSION DRAFT or a number), with optional
/// "x-basalt-guardrail-trace" (enabled, disabled, enabled_full) and "x-basalt-guardrail-stream-mode" (sync, async).</summary>
internal static class GuardrailHeaders
{
    public const string Guardrail = "x-basalt-guardrail";
    public const string Trace = "x-basalt-guardrail-trace";
    public const string StreamMode = "x-basalt-guardrail-stream-mode";

    /// <summary>Answer header telling an OpenAI client the guardrail intervened (its finish_reason is then content_filter).</summary>
    public const string Action = "x-basalt-guardrail-action";

    /// <summary>The request with the header's guardrail; a malformed header is a 400 naming it.</summary>
    public static ConverseRequest Apply(HttpRequest http, ConverseRequest request)
    {
        var value = http.Headers[Guardrail].ToString().Trim();
        if (value.Length == 0)
            return request;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1)
            throw new OpenAiRequestException(Guardrail, $"The {Guardrail} header must be ID:VERSION, for example abc123def456:DRAFT or abc123def456:1.");
        var trace = http.Headers[Trace].ToString().Trim();
        if (trace.Length > 0 && trace is not ("enabled" or "disabled" or "enabled_full"))
            throw new OpenAiRequestException(Trace, $"The {Trace} header must be enabled, disabled or enabled_full, not '{trace}'.");
        var mode = http.Headers[StreamMode].ToString().Trim();
        if (mode.Length > 0 && mode is not ("sync" or "async"))
            throw new OpenAiRequestException(StreamMode, $"The {StreamMode} header must be sync or async, not '{mode}'.");
        return request with
        {
            GuardrailConfig = new GuardrailConfig(value[..colon], value[(colon + 1)..], trace.Length > 0 ? trace : null, mode.Length > 0 ? mode : null),
        };
    }
}
