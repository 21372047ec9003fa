using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Basalt.Core.Conversation;
using Basalt.Guardrails;
using Basalt.Guardrails.Resources;
using Basalt.Server.State;

namespace Basalt.Server.Guardrails;

/// <summary>Guardrail resources over the state store: create, read, list, update the DRAFT, version and delete, with Bedrock's
/// identifiers (12-character ids, ARNs) and errors; and the built policies of a version, for applying it.</summary>
public sealed class GuardrailRegistry
{
    /// <summary>The region named in guardrail ARNs; a self-hosted gateway has no AWS region.</summary>
    public const string Region = "local";

    /// <summary>The account named in guardrail ARNs.</summary>
    public const string Account = "000000000000";

    /// <summary>Length of a guardrail id (Bedrock's ids are 12 lowercase letters and digits).</summary>
    public const int IdLength = 12;

    /// <summary>How long a numbered version, once read, is served from memory: numbered versions never change, so this only
    /// bounds how long a version deleted by another process (the CLI, another server) stays usable here.</summary>
    public static readonly TimeSpan VersionCacheLifetime = TimeSpan.FromSeconds(5);

    private const string ArnPrefix = "arn:aws:bedrock:" + Region + ":" + Account + ":guardrail/";
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    private readonly IStateStore _store;
    private readonly GuardrailEngine _engine;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<(string, int), (StoredGuardrail Row, long At)> _versions = new();

    /// <summary>Creates the registry.</summary>
    public GuardrailRegistry(IStateStore store, GuardrailEngine engine, TimeProvider? time = null)
    {
        _store = store;
        _engine = engine;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The engine that runs the policies.</summary>
    public GuardrailEngine Engine => _engine;

    /// <summary>The ARN of a guardrail id.</summary>
    public static string Arn(string id) => ArnPrefix + id;

    /// <summary>Creates a guardrail (its DRAFT); a bad policy configuration is a ValidationException, a taken name a ConflictException.</summary>
    public async Task<StoredGuardrail> CreateAsync(GuardrailSpec spec, CancellationToken cancellationToken = default)
    {
        Check(spec);
        var now = Now();
        var row = new StoredGuardrail(NewId(), 0, spec.Name, spec.Description, GuardrailSpecJson.ToConfigJson(spec), now, now);
        try
        {
            await _store.InsertGuardrailAsync(row, cancellationToken);
        }
        catch (DuplicateGuardrailNameException e)
        {
            throw new BasaltException(ErrorKind.Conflict, e.Message);
        }
        return row;
    }

    /// <summary>One version ("DRAFT" or a number; null means DRAFT) of a guardrail named by id or ARN.</summary>
    public async Task<StoredGuardrail> GetAsync(string identifier, string? version, CancellationToken cancellationToken = default)
    {
        var id = ParseIdentifier(identifier, "guardrailIdentifier");
        var v = ParseVersion(version ?? GuardrailVersions.Draft, "guardrailVersion");
        return await _store.FindGuardrailAsync(id, v, cancellationToken) ?? throw NotFound(id, v);
    }

    /// <summary>The DRAFT of every guardrail, or every version of one.</summary>
    public async Task<IReadOnlyList<StoredGuardrail>> ListAsync(string? identifier, CancellationToken cancellationToken = default)
    {
        if (identifier is null)
            return await _store.ListGuardrailsAsync(null, cancellationToken);
        var id = ParseIdentifier(identifier, "guardrailIdentifier");
        var rows = await _store.ListGuardrailsAsync(id, cancellationToken);
        return rows.Count == 0 ? throw NotFound(id, null) : rows;
    }

    /// <summary>Replaces the DRAFT's configuration.</summary>
    public async Task<StoredGuardrail> UpdateAsync(string identifier, GuardrailSpec spec, CancellationToken cancellationToken = default)
    {
        var id = ParseIdentifier(identifier, "guardrailIdentifier");
        Check(spec);
        var draft = await _store.FindGuardrailAsync(id, 0, cancellationToken) ?? throw NotFound(id, null);
        var now = Now();
        // Update times must differ so the engine rebuilds the DRAFT's policies even for two updates in one millisecond.
        if (now <= draft.UpdatedAt)
            now = draft.UpdatedAt.AddMilliseconds(1);
        var row = draft with { Name = spec.Name, Description = spec.Description, Spec = GuardrailSpecJson.ToConfigJson(spec), UpdatedAt = now };
        try
        {
            if (!await _store.UpdateGuardrailDraftAsync(row, cancellationToken))
                throw NotFound(id, null);
        }
        catch (DuplicateGuardrailNameException e)
        {
            throw new BasaltException(ErrorKind.Conflict, e.Message);
        }
        return row;
    }

    /// <summary>Freezes the DRAFT as the next numbered version.</summary>
    public async Task<StoredGuardrail> CreateVersionAsync(string identifier, string? description, CancellationToken cancellationToken = default)
    {
        var id = ParseIdentifier(identifier, "guardrailIdentifier");
        if (description is { Length: 0 or > 200 })
            throw BasaltException.Validation("description: must be 1 to 200 characters.");
        return await _store.CreateGuardrailVersionAsync(id, description, Now(), cancellationToken) ?? throw NotFound(id, null);
    }

    /// <summary>Deletes a whole guardrail (<paramref name="version"/> null) or one numbered version.</summary>
    public async Task DeleteAsync(string identifier, string? version, CancellationToken cancellationToken = default)
    {
        var id = ParseIdentifier(identifier, "guardrailIdentifier");
        int? v = null;
        if (version is not null)
        {
            if (version == GuardrailVersions.Draft)
                throw BasaltException.Validation("guardrailVersion: the DRAFT cannot be deleted alone; omit guardrailVersion to delete the whole guardrail.");
            v = ParseVersion(version, "guardrailVersion");
        }
        if (!await _store.DeleteGuardrailAsync(id, v, cancellationToken))
            throw NotFound(id, v);
        foreach (var key in _versions.Keys)
            if (key.Item1 == id)
                _versions.TryRemove(key, out _);
        _engine.Forget(id);
    }

    /// <summary>The built policies of a version, for ApplyGuardrail and requests with a guardrailConfig.</summary>
    public async ValueTask<(StoredGuardrail Row, GuardrailPolicies Policies)> ResolveAsync(string identifier, string version, CancellationToken cancellationToken = default)
    {
        var id = ParseIdentifier(identifier, "guardrailIdentifier");
        var v = ParseVersion(version, "guardrailVersion");
        StoredGuardrail row;
        var now = Stopwatch.GetTimestamp();
        if (v > 0 && _versions.TryGetValue((id, v), out var hit) && Stopwatch.GetElapsedTime(hit.At, now) < VersionCacheLifetime)
        {
            row = hit.Row;
        }
        else
        {
            row = await _store.FindGuardrailAsync(id, v, cancellationToken) ?? throw NotFound(id, v);
            if (v > 0)
                _versions[(id, v)] = (row, now);
        }
        var policies = _engine.PoliciesFor(id, v, row.UpdatedAt, () => ToSpec(row));
        return (row, policies);
    }

    /// <summary>The stored configuration of a version, with the version's description.</summary>
    public static GuardrailSpec ToSpec(StoredGuardrail row) => GuardrailSpecJson.FromConfigJson(row.Spec) with { Description = row.Description };

    /// <summary>The id in an identifier that is an id or a guardrail ARN.</summary>
    public static string ParseIdentifier(string identifier, string field)
    {
        var id = identifier;
        if (identifier.StartsWith("arn:", StringComparison.Ordinal))
        {
            var at = identifier.IndexOf(":guardrail/", StringComparison.Ordinal);
            if (!identifier.StartsWith("arn:aws", StringComparison.Ordinal) || at < 0)
                throw BasaltException.Validation($"{field}: '{identifier}' is not a guardrail ARN (arn:aws:bedrock:REGION:ACCOUNT:guardrail/ID).");
            id = identifier[(at + ":guardrail/".Length)..];
        }
        if (id.Length is 0 or > 64)
            throw BasaltException.Validation($"{field}: '{Shorten(identifier)}' is not a guardrail id or ARN; ids are up to 64 lowercase letters and digits.");
        foreach (var c in id)
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
                throw BasaltException.Validation($"{field}: '{Shorten(identifier)}' is not a guardrail id or ARN; ids are lowercase letters and digits.");
        return id;
    }

    /// <summary>Parses "DRAFT" or a version number.</summary>
    public static int ParseVersion(string version, string field)
        => GuardrailVersions.TryParse(version, out var v) ? v
            : throw BasaltException.Validation($"{field}: '{Shorten(version)}' is not a guardrail version; use DRAFT or a version number (1 to 99999999).");

    private static void Check(GuardrailSpec spec)
    {
        try
        {
            _ = GuardrailPolicies.Build(spec);
        }
        catch (ArgumentException e)
        {
            throw BasaltException.Validation(e.Message);
        }
    }

    private static BasaltException NotFound(string id, int? version) => BasaltException.NotFound(version is > 0
        ? $"Guardrail {id} has no version {version}; list its versions with GET /guardrails?guardrailIdentifier={id}."
        : $"No guardrail with id {id}; list guardrails with GET /guardrails (or `basalt guardrails list`).");

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "...";

    private DateTimeOffset Now()
    {
        var now = _time.GetUtcNow();
        return DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds());
    }

    private static string NewId()
    {
        Span<char> id = stackalloc char[IdLength];
        for (var i = 0; i < id.Length; i++)
            id[i] = IdAlphabet[RandomNumberGenerator.GetInt32(IdAlphabet.Length)];
        return new string(id);
    }
}
