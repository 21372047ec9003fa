using System.Globalization;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Guardrails;
using Basalt.Guardrails.Resources;
using Basalt.Server.Bedrock;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using static Basalt.Core.Bedrock.JsonInput;

namespace Basalt.Server.Guardrails;

/// <summary>The guardrail control plane (bedrock.json's CreateGuardrail, GetGuardrail, ListGuardrails, UpdateGuardrail,
/// CreateGuardrailVersion, DeleteGuardrail) and the runtime's ApplyGuardrail, on Bedrock's paths and status codes.</summary>
internal static class GuardrailEndpoints
{
    /// <summary>Most guardrails one ListGuardrails page holds (MaxResults max).</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Page size when maxResults is not given.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>Most content blocks one ApplyGuardrail call takes.</summary>
    public const int MaxContentBlocks = 100;

    public static IEndpointRouteBuilder MapGuardrails(this IEndpointRouteBuilder app)
    {
        app.MapPost("/guardrails", (RequestDelegate)CreateAsync);
        app.MapGet("/guardrails", (RequestDelegate)ListAsync);
        app.MapGet("/guardrails/{**identifier}", (RequestDelegate)GetAsync);
        app.MapPut("/guardrails/{**identifier}", (RequestDelegate)UpdateAsync);
        app.MapPost("/guardrails/{**identifier}", (RequestDelegate)CreateVersionAsync);
        app.MapDelete("/guardrails/{**identifier}", (RequestDelegate)DeleteAsync);
        // One catch-all: identifiers may be ARNs whose '/' arrives encoded (%2F) or not.
        app.MapPost("/guardrail/{**rest}", (RequestDelegate)ApplyAsync);
        return app;
    }

    private static async Task CreateAsync(HttpContext context)
    {
        var spec = await ReadSpecAsync(context);
        var row = await Registry(context).CreateAsync(spec, context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status202Accepted, w =>
        {
            w.WriteStartObject();
            w.WriteString("guardrailId", row.Id);
            w.WriteString("guardrailArn", GuardrailRegistry.Arn(row.Id));
            w.WriteString("version", GuardrailVersions.Draft);
            w.WriteString("createdAt", Time(row.CreatedAt));
            w.WriteEndObject();
        });
    }

    private static async Task GetAsync(HttpContext context)
    {
        var row = await Registry(context).GetAsync(Identifier(context, "/guardrails/"), Query(context, "guardrailVersion"), context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status200OK, w => WriteGuardrail(w, row));
    }

    /// <summary>The GetGuardrail response body of a stored version.</summary>
    internal static void WriteGuardrail(Utf8JsonWriter w, Basalt.Server.State.StoredGuardrail row)
    {
        w.WriteStartObject();
        w.WriteString("guardrailId", row.Id);
        w.WriteString("guardrailArn", GuardrailRegistry.Arn(row.Id));
        w.WriteString("version", GuardrailVersions.Format(row.Version));
        w.WriteString("status", "READY");
        GuardrailSpecJson.WriteFields(w, GuardrailRegistry.ToSpec(row), policyShape: true);
        w.WriteString("createdAt", Time(row.CreatedAt));
        w.WriteString("updatedAt", Time(row.UpdatedAt));
        w.WriteEndObject();
    }

    private static async Task ListAsync(HttpContext context)
    {
        var identifier = Query(context, "guardrailIdentifier");
        var max = DefaultPageSize;
        if (Query(context, "maxResults") is { } m)
            max = int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxPageSize
                ? n : throw BasaltException.Validation($"maxResults: must be a whole number from 1 to {MaxPageSize}.");
        var offset = 0;
        if (Query(context, "nextToken") is { } t && !(int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out offset) && offset >= 0))
            throw BasaltException.Validation("nextToken: is not a token this server returned; start the listing again without it.");
        var rows = await Registry(context).ListAsync(identifier, context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("guardrails");
            var end = Math.Min(rows.Count, offset + max);
            for (var i = offset; i < end; i++)
            {
                var r = rows[i];
                w.WriteStartObject();
                w.WriteString("id", r.Id);
                w.WriteString("arn", GuardrailRegistry.Arn(r.Id));
                w.WriteString("status", "READY");
                w.WriteString("name", r.Name);
                if (r.Description is { } d)
                    w.WriteString("description", d);
                w.WriteString("version", GuardrailVersions.Format(r.Version));
                w.WriteString("createdAt", Time(r.CreatedAt));
                w.WriteString("updatedAt", Time(r.UpdatedAt));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (end < rows.Count)
                w.WriteString("nextToken", end.ToString(CultureInfo.InvariantCulture));
            w.WriteEndObject();
        });
    }

    private static async Task UpdateAsync(HttpContext context)
    {
        var identifier = Identifier(context, "/guardrails/");
        var spec = await ReadSpecAsync(context);
        var row = await Registry(context).UpdateAsync(identifier, spec, context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status202Accepted, w =>
        {
            w.WriteStartObject();
            w.WriteString("guardrailId", row.Id);
            w.WriteString("guardrailArn", GuardrailRegistry.Arn(row.Id));
            w.WriteString("version", GuardrailVersions.Draft);
            w.WriteString("updatedAt", Time(row.UpdatedAt));
            w.WriteEndObject();
        });
    }

    private static async Task CreateVersionAsync(HttpContext context)
    {
        var identifier = Identifier(context, "/guardrails/");
        string? description = null;
        using (var body = await RequestBody.ReadAsync(context))
        {
            if (!body.Memory.IsEmpty)
            {
                using var doc = Parse(body.Memory);
                RequireObject(doc.RootElement, "body");
                description = OptionalString(doc.RootElement, "description", "", 1, 200);
            }
        }
        var row = await Registry(context).CreateVersionAsync(identifier, description, context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status202Accepted, w =>
        {
            w.WriteStartObject();
            w.WriteString("guardrailId", row.Id);
            w.WriteString("version", GuardrailVersions.Format(row.Version));
            w.WriteEndObject();
        });
    }

    private static async Task DeleteAsync(HttpContext context)
    {
        await Registry(context).DeleteAsync(Identifier(context, "/guardrails/"), Query(context, "guardrailVersion"), context.RequestAborted);
        await WriteAsync(context, StatusCodes.Status202Accepted, w =>
        {
            w.WriteStartObject();
            w.WriteEndObject();
        });
    }

    private static async Task ApplyAsync(HttpContext context)
    {
        // rest = {guardrailIdentifier}/version/{guardrailVersion}/apply
        var rest = RawTail(context, "/guardrail/");
        const string Apply = "/apply";
        var versionAt = rest.LastIndexOf("/version/", StringComparison.Ordinal);
        if (!rest.EndsWith(Apply, StringComparison.Ordinal) || versionAt <= 0)
            throw BasaltException.NotFound($"No operation at {context.Request.Path}; use POST /guardrail/{{guardrailIdentifier}}/version/{{guardrailVersion}}/apply.");
        var identifier = Uri.UnescapeDataString(rest[..versionAt]);
        var version = Uri.UnescapeDataString(rest[(versionAt + "/version/".Length)..^Apply.Length]);
        GuardrailSource source;
        bool full;
        List<GuardrailTextUnit> units;
        using (var body = await RequestBody.ReadAsync(context))
        using (var doc = Parse(body.Memory))
            (source, full, units) = ReadApply(doc.RootElement);
        var (row, policies) = await Registry(context).ResolveAsync(identifier, version, context.RequestAborted);
        GuardrailOutcome outcome;
        try
        {
            outcome = GuardrailEngine.Apply(policies, source, units, full);
        }
        catch (ArgumentException e)
        {
            throw BasaltException.Validation("content: " + e.Message);
        }
        await WriteAsync(context, StatusCodes.Status200OK, w => GuardrailAssessmentJson.WriteApplyResponse(w, outcome, row.Id, GuardrailVersions.Format(row.Version)));
    }

    /// <summary>Reads an ApplyGuardrail body: source, content (text blocks with qualifiers) and outputScope.</summary>
    internal static (GuardrailSource Source, bool Full, List<GuardrailTextUnit> Units) ReadApply(JsonElement root)
    {
        RequireObject(root, "body");
        var source = Enum(Required(root, "source", ""), "source", "INPUT", "OUTPUT") == "OUTPUT" ? GuardrailSource.Output : GuardrailSource.Input;
        var full = Optional(root, "outputScope") is { } scope && Enum(scope, "outputScope", "INTERVENTIONS", "FULL") == "FULL";
        var content = Required(root, "content", "");
        RequireArray(content, "content", 0, MaxContentBlocks);
        var units = new List<GuardrailTextUnit>();
        var total = 0;
        var i = 0;
        foreach (var block in content.EnumerateArray())
        {
            var p = $"content[{i++}]";
            var member = UnionMember(block, p, "a guardrail content block");
            if (member.Name == "image")
                throw Error(p + ".image", "Basalt's guardrails assess text only; send text blocks.");
            if (member.Name != "text")
                throw Error(p, $"'{member.Name}' is not a guardrail content block; use text.");
            RequireObject(member.Value, p + ".text");
            var text = RequiredString(member.Value, "text", p + ".text");
            total += text.Length;
            if (total > GuardrailEngine.MaxTextCharacters)
                throw Error(p + ".text.text", $"the content holds more than {GuardrailEngine.MaxTextCharacters} characters in total, the most one call assesses; split it across calls.");
            HashSet<string>? qualifiers = null;
            if (Optional(member.Value, "qualifiers") is { } q)
            {
                RequireArray(q, p + ".text.qualifiers", 0, 3);
                qualifiers = new HashSet<string>(StringComparer.Ordinal);
                var j = 0;
                foreach (var item in q.EnumerateArray())
                    qualifiers.Add(Enum(item, $"{p}.text.qualifiers[{j++}]", "grounding_source", "query", "guard_content"));
            }
            units.Add(new GuardrailTextUnit(text, qualifiers));
        }
        return (source, full, units);
    }

    private static async Task<GuardrailSpec> ReadSpecAsync(HttpContext context)
    {
        using var body = await RequestBody.ReadAsync(context);
        using var doc = Parse(body.Memory);
        return GuardrailSpecJson.Read(doc.RootElement);
    }

    private static string Identifier(HttpContext context, string prefix)
    {
        var raw = Uri.UnescapeDataString(RawTail(context, prefix));
        if (raw.Length == 0)
            throw BasaltException.Validation("guardrailIdentifier: is required.");
        return raw;
    }

    private static string? Query(HttpContext context, string name)
        => context.Request.Query.TryGetValue(name, out var v) && v.Count > 0 ? v[0] : null;

    internal static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static GuardrailRegistry Registry(HttpContext context) => context.RequestServices.GetRequiredService<GuardrailRegistry>();

    private static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
            write(w);
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>The raw (still percent-encoded) request target after <paramref name="prefix"/>, without the query.</summary>
    private static string RawTail(HttpContext context, string prefix)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw) || raw[0] != '/')
            raw = context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?');
        if (query >= 0)
            raw = raw[..query];
        return raw.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? raw[prefix.Length..] : "";
    }
}

/// <summary>Registers the guardrail engine and registry.</summary>
internal static class GuardrailServices
{
    public static IServiceCollection AddGuardrails(this IServiceCollection services)
    {
        services.AddSingleton<GuardrailEngine>();
        services.AddSingleton(sp => new GuardrailRegistry(sp.GetRequiredService<Basalt.Server.State.IStateStore>(), sp.GetRequiredService<GuardrailEngine>(), sp.GetService<TimeProvider>()));
        return services;
    }
}
