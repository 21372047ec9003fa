using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Store;

/// <summary>Downloads GGUF files from a Hugging Face hub into a <see cref="ModelStore"/>: resolves the file, follows the
/// CDN redirect, resumes a .partial with Range/If-Range, verifies the LFS sha256, validates the GGUF and registers it.</summary>
public sealed class ModelPuller
{
    /// <summary>The public hub.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Quantization picked when a repo holds several .gguf files and none is named.</summary>
    public const string PreferredQuantization = "Q4_K_M";

    /// <summary>Redirects followed before giving up (the hub uses one, to its CDN).</summary>
    public const int MaxRedirects = 10;

    /// <summary>Transfers tried per pull; a broken transfer resumes from the bytes already on disk.</summary>
    public const int MaxAttempts = 3;

    private const int CopyBufferBytes = 1 << 20;

    private readonly ModelStore _store;
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string? _token;

    /// <summary>Creates a puller; <paramref name="http"/> must not follow redirects itself (see <see cref="CreateHttpClient"/>).</summary>
    public ModelPuller(ModelStore store, HttpClient http, string endpoint, string? token)
    {
        _store = store;
        _http = http;
        if (!Uri.TryCreate(endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ModelPullException($"The hub endpoint '{endpoint}' is not an http(s) URL; set --endpoint or $HF_ENDPOINT to one, e.g. {DefaultEndpoint}.");
        _endpoint = uri;
        _token = string.IsNullOrWhiteSpace(token) ? null : token;
    }

    /// <summary>An HttpClient suited to pulls: redirects handled by the puller (to read the hub's headers and drop the token for the CDN), no overall timeout.</summary>
    public static HttpClient CreateHttpClient() =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, ConnectTimeout = TimeSpan.FromSeconds(30) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

    /// <summary>The endpoint: the option if given, else $HF_ENDPOINT, else the public hub.</summary>
    public static string ResolveEndpoint(string? option)
    {
        if (!string.IsNullOrWhiteSpace(option))
            return option;
        var env = Environment.GetEnvironmentVariable("HF_ENDPOINT");
        return string.IsNullOrWhiteSpace(env) ? DefaultEndpoint : env;
    }

    /// <summary>Picks the file to pull when the reference names none: the only .gguf in the repo, else the only {PreferredQuantization} one.</summary>
    public async Task<ModelReference> ResolveFileAsync(ModelReference reference, CancellationToken ct)
    {
        if (reference.File is not null)
            return reference;
        var url = new Uri(_endpoint, $"api/models/{Uri.EscapeDataString(reference.Owner)}/{Uri.EscapeDataString(reference.Repository)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        AddToken(request);
        using var response = await SendAsync(request, reference, ct).ConfigureAwait(false);
        ThrowOnFailure(response, reference);
        var ggufs = new List<string>();
        try
        {
            using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), cancellationToken: ct).ConfigureAwait(false);
            if (doc.RootElement.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
                foreach (var s in siblings.EnumerateArray())
                    if (s.ValueKind == JsonValueKind.Object && s.TryGetProperty("rfilename", out var f) && f.GetString() is { } name
                        && name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
                        ggufs.Add(name);
        }
        catch (JsonException e)
        {
            throw new ModelPullException($"The hub's answer for {reference.RepoId} is not the JSON expected from {url} ({e.Message}).", e);
        }
        if (ggufs.Count == 0)
            throw new ModelPullException($"{reference.RepoId} holds no .gguf file; pick a repository with GGUF files (their names often end in -GGUF).");
        if (ggufs.Count == 1)
            return reference with { File = ggufs[0] };
        var preferred = ggufs.FindAll(f => f.Contains(PreferredQuantization, StringComparison.OrdinalIgnoreCase));
        if (preferred.Count == 1)
            return reference with { File = preferred[0] };
        ggufs.Sort(StringComparer.Ordinal);
        throw new ModelPullException($"{reference.RepoId} holds {ggufs.Count} .gguf files; name one, e.g. basalt pull {reference.RepoId}:{ggufs[0]}"
            + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", ggufs));
    }

    /// <summary>Pulls <paramref name="reference"/> into the store and registers it under OWNER/REPO:FILE.</summary>
    public async Task<StoredModel> PullAsync(ModelReference reference, IProgress<PullProgress>? progress, CancellationToken ct)
    {
        reference = await ResolveFileAsync(reference, ct).ConfigureAwait(false);
        var target = _store.PathFor(reference);
        var partial = target + ".partial";
        var validatorFile = partial + ".etag";
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var url = new Uri(_endpoint, $"{Escape(reference.Owner)}/{Escape(reference.Repository)}/resolve/main/{Escape(reference.File!)}");

        string? expectedSha = null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                expectedSha = await TransferAsync(reference, url, partial, validatorFile, progress, ct).ConfigureAwait(false);
                break;
            }
            catch (TransferBrokenException e) when (attempt < MaxAttempts)
            {
                _ = e; // resume from what reached the disk
            }
            catch (TransferBrokenException e)
            {
                var have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
                throw new ModelPullException($"The download of {reference} broke {MaxAttempts} times ({e.InnerException?.Message}); {have} bytes are kept in {partial}. Run the same command again to resume.", e);
            }
        }

        var actual = await HashFileAsync(partial, ct).ConfigureAwait(false);
        if (expectedSha is not null && !string.Equals(actual, expectedSha, StringComparison.Ordinal))
        {
            File.Delete(partial);
            File.Delete(validatorFile);
            throw new ModelPullException($"sha256 mismatch for {reference}: the hub says {expectedSha}, the download is {actual}. The downloaded file was deleted; run the command again.");
        }
        try
        {
            using var check = GgufFile.Open(partial);
        }
        catch (GgufFormatException e)
        {
            File.Delete(partial);
            File.Delete(validatorFile);
            throw new ModelPullException($"{reference} is not a readable GGUF file ({e.Message}); it was deleted.", e);
        }
        File.Move(partial, target, overwrite: true);
        File.Delete(validatorFile);
        return _store.Register(reference.ToString(), target, url.ToString(), actual, DateTimeOffset.UtcNow);
    }

    /// <summary>Raised inside a pull when the network transfer broke; the bytes received so far are on disk.</summary>
    private sealed class TransferBrokenException(Exception inner) : Exception(inner.Message, inner);

    /// <summary>Downloads (or resumes) into <paramref name="partial"/>; returns the expected sha256 when the hub gave one.</summary>
    private async Task<string?> TransferAsync(ModelReference reference, Uri url, string partial, string validatorFile, IProgress<PullProgress>? progress, CancellationToken ct)
    {
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        string? validator = null, savedSha = null;
        if (have > 0 && File.Exists(validatorFile))
        {
            var lines = File.ReadAllLines(validatorFile);
            validator = lines.Length > 0 && lines[0].Length > 0 ? lines[0] : null;
            savedSha = lines.Length > 1 && lines[1].Length > 0 ? lines[1] : null;
        }

        HttpResponseMessage response;
        string? expectedSha = null;
        var current = url;
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            if (have > 0)
            {
                request.Headers.Range = new RangeHeaderValue(have, null);
                if (validator is not null)
                    request.Headers.TryAddWithoutValidation("If-Range", validator);
            }
            // The token is for the hub only, never for the CDN it redirects to.
            if (current.Host == _endpoint.Host && current.Port == _endpoint.Port)
                AddToken(request);
            response = await SendAsync(request, reference, ct).ConfigureAwait(false);
            expectedSha ??= Sha256From(response);
            var status = (int)response.StatusCode;
            if (status is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
            {
                response.Dispose();
                if (hop >= MaxRedirects)
                    throw new ModelPullException($"The hub redirected {reference} more than {MaxRedirects} times; check --endpoint.");
                current = new Uri(current, location);
                continue;
            }
            break;
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // An interrupted pull may have received every byte before it stopped: the partial is then complete.
                if (response.Content.Headers.ContentRange is { Length: { } length } && length == have
                    && (savedSha is null || expectedSha is null || savedSha == expectedSha))
                {
                    progress?.Report(new PullProgress(reference.File!, have, have, have));
                    return expectedSha;
                }
                // The partial is longer than the file, or of another version: start over.
                File.Delete(partial);
                File.Delete(validatorFile);
                throw new TransferBrokenException(new IOException("the server refused the resume range"));
            }
            ThrowOnFailure(response, reference);
            if (have > 0 && savedSha is not null && expectedSha is not null && savedSha != expectedSha)
                have = -1; // the file changed upstream since the partial was written; the 206 (if any) is unusable
            var resumed = response.StatusCode == HttpStatusCode.PartialContent && have > 0
                && response.Content.Headers.ContentRange is { From: { } from } && from == have;
            if (!resumed)
            {
                if (response.StatusCode == HttpStatusCode.PartialContent)
                {
                    File.Delete(partial);
                    File.Delete(validatorFile);
                    throw new TransferBrokenException(new IOException("the server resumed from another offset"));
                }
                have = 0;
            }
            var etag = response.Headers.ETag?.ToString();
            await File.WriteAllLinesAsync(validatorFile, [etag ?? "", expectedSha ?? ""], ct).ConfigureAwait(false);
            long? total = response.Content.Headers.ContentLength is { } len ? have + len : null;

            await using var output = OpenForWrite(partial, resumed);
            var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var buffer = new byte[CopyBufferBytes];
            var received = have;
            progress?.Report(new PullProgress(reference.File!, received, total, have));
            while (true)
            {
                int n;
                try
                {
                    n = await body.ReadAsync(buffer, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    throw new TransferBrokenException(e);
                }
                if (n == 0)
                    break;
                try
                {
                    await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
                catch (IOException e) when (IsDiskFull(e))
                {
                    throw new ModelPullException($"The disk holding {Path.GetDirectoryName(partial)} is full after {received} bytes of {reference}" +
                        (total is { } t ? $" (the file needs {t} bytes)" : "") + ". Free space (or set --models-dir / $BASALT_MODELS elsewhere) and run the command again to resume.", e);
                }
                received += n;
                progress?.Report(new PullProgress(reference.File!, received, total, have));
                ct.ThrowIfCancellationRequested();
            }
            if (total is { } expected && received != expected)
                throw new TransferBrokenException(new IOException($"the transfer ended at {received} of {expected} bytes"));
        }
        return expectedSha;
    }

    private static FileStream OpenForWrite(string path, bool append) =>
        new(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16, useAsync: true);

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, ModelReference reference, CancellationToken ct)
    {
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ModelPullException($"Cannot reach {request.RequestUri?.GetLeftPart(UriPartial.Authority)} for {reference}: {e.Message}. Check the network, or --endpoint / $HF_ENDPOINT.", e);
        }
    }

    private void AddToken(HttpRequestMessage request)
    {
        if (_token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
    }

    private void ThrowOnFailure(HttpResponseMessage response, ModelReference reference)
    {
        switch (response.StatusCode)
        {
            case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden:
                throw new ModelPullException(_token is null
                    ? $"{reference.RepoId} needs authorization (HTTP {(int)response.StatusCode}): it is gated or private. Accept its terms on the hub, then set HF_TOKEN to an access token."
                    : $"{reference.RepoId} refused the token in HF_TOKEN (HTTP {(int)response.StatusCode}): check that it is valid and that you accepted the repository's terms on the hub.");
            case HttpStatusCode.NotFound:
                throw new ModelPullException($"{reference} was not found on {_endpoint.GetLeftPart(UriPartial.Authority)} (HTTP 404); check the owner, repository and file name.");
        }
        if (!response.IsSuccessStatusCode)
            throw new ModelPullException($"The hub answered HTTP {(int)response.StatusCode} {response.ReasonPhrase} for {reference}; try again later.");
    }

    /// <summary>The LFS sha256 the hub sends as X-Linked-ETag (or ETag), when it is 64 hex digits.</summary>
    internal static string? Sha256From(HttpResponseMessage response)
    {
        foreach (var name in (ReadOnlySpan<string>)["X-Linked-ETag", "ETag"])
        {
            if (!response.Headers.TryGetValues(name, out var values))
                continue;
            foreach (var raw in values)
            {
                var v = raw.Trim();
                if (v.StartsWith("W/", StringComparison.Ordinal)) v = v[2..];
                v = v.Trim('"').ToLowerInvariant();
                if (v.Length == 64 && IsHex(v))
                    return v;
            }
        }
        return null;
    }

    private static bool IsHex(string s)
    {
        foreach (var c in s)
            if (!char.IsAsciiHexDigit(c)) return false;
        return true;
    }

    // ENOSPC on Linux/macOS (28), ERROR_HANDLE_DISK_FULL (39) and ERROR_DISK_FULL (112) on Windows.
    private static bool IsDiskFull(IOException e) => (e.HResult & 0xFFFF) is 28 or 39 or 112;

    private static string Escape(string path) => string.Join('/', Array.ConvertAll(path.Split('/'), Uri.EscapeDataString));

    private static async Task<string> HashFileAsync(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        var hash = await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }
}
