using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Basalt.Tests.Common;

/// <summary>A loopback imitation of the Hugging Face hub: /api/models/OWNER/REPO lists siblings, /OWNER/REPO/resolve/main/FILE
/// answers 302 to /cdn/... with the LFS sha256 in X-Linked-ETag, and /cdn/... serves bytes with ETag and Range (206) support.</summary>
internal sealed class FakeHub : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, Dictionary<string, byte[]>> _repos = new(StringComparer.Ordinal);
    private readonly Task _loop;
    private int _brokenTransfersLeft;

    public FakeHub()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = $"http://127.0.0.1:{port}";
        CdnEndpoint = $"http://localhost:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Prefixes.Add(CdnEndpoint + "/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Base URL, e.g. http://127.0.0.1:PORT.</summary>
    public string Endpoint { get; }

    /// <summary>The "CDN" the hub redirects file downloads to: the same listener under another host name, as the real hub's CDN is another host.</summary>
    public string CdnEndpoint { get; }

    /// <summary>Repos (OWNER/REPO) answering 401 unless the request carries this bearer token.</summary>
    public Dictionary<string, string> GatedTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, the hub advertises this sha256 instead of the real one.</summary>
    public string? AdvertisedSha256 { get; set; }

    /// <summary>Requests seen: method, path, Range header, Authorization header.</summary>
    public ConcurrentQueue<(string Path, string? Range, string? Authorization)> Requests { get; } = new();

    /// <summary>The next <paramref name="count"/> CDN transfers send only the first half of the bytes, then close the connection.</summary>
    public void BreakNextTransfers(int count) => _brokenTransfersLeft = count;

    public void Add(string repo, string file, byte[] content)
    {
        if (!_repos.TryGetValue(repo, out var files))
            _repos[repo] = files = new(StringComparer.Ordinal);
        files[file] = content;
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => Handle(ctx));
        }
    }

    private void Handle(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        var path = Uri.UnescapeDataString(req.Url!.AbsolutePath);
        Requests.Enqueue((path, req.Headers["Range"], req.Headers["Authorization"]));
        try
        {
            if (path.StartsWith("/api/models/", StringComparison.Ordinal))
            {
                var repo = path["/api/models/".Length..];
                if (!Authorized(repo, req, res)) return;
                if (!_repos.TryGetValue(repo, out var files)) { NotFound(res); return; }
                var sb = new StringBuilder("{\"id\":\"").Append(repo).Append("\",\"siblings\":[{\"rfilename\":\"README.md\"}");
                foreach (var f in files.Keys)
                    sb.Append(",{\"rfilename\":\"").Append(f).Append("\"}");
                Write(res, 200, Encoding.UTF8.GetBytes(sb.Append("]}").ToString()), "application/json");
                return;
            }
            if (path.StartsWith("/cdn/", StringComparison.Ordinal))
            {
                var (content, _) = Lookup(path["/cdn/".Length..], "/");
                if (content is null) { NotFound(res); return; }
                ServeBytes(req, res, content);
                return;
            }
            var marker = path.IndexOf("/resolve/main/", StringComparison.Ordinal);
            if (marker > 0)
            {
                var repo = path[1..marker];
                var file = path[(marker + "/resolve/main/".Length)..];
                if (!Authorized(repo, req, res)) return;
                if (!_repos.TryGetValue(repo, out var files) || !files.TryGetValue(file, out var content)) { NotFound(res); return; }
                res.StatusCode = 302;
                res.Headers["Location"] = $"{CdnEndpoint}/cdn/{repo}/{file}";
                res.Headers["X-Linked-ETag"] = $"\"{AdvertisedSha256 ?? Sha256(content)}\"";
                res.Headers["ETag"] = "W/\"0123456789abcdef\"";
                res.ContentLength64 = 0;
                res.Close();
                return;
            }
            NotFound(res);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // the client went away
        }
    }

    private (byte[]? Content, string File) Lookup(string rest, string separator)
    {
        // rest = OWNER/REPO/FILE
        var parts = rest.Split(separator, 3);
        if (parts.Length < 3) return (null, "");
        return _repos.TryGetValue(parts[0] + "/" + parts[1], out var files) && files.TryGetValue(parts[2], out var c) ? (c, parts[2]) : (null, parts[2]);
    }

    private void ServeBytes(HttpListenerRequest req, HttpListenerResponse res, byte[] content)
    {
        var etag = $"\"cdn-{Sha256(content)[..16]}\"";
        res.Headers["ETag"] = etag;
        res.Headers["Accept-Ranges"] = "bytes";
        long start = 0;
        var range = req.Headers["Range"];
        var ifRange = req.Headers["If-Range"];
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-') && (ifRange is null || ifRange == etag))
        {
            start = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            if (start >= content.Length)
            {
                res.StatusCode = 416;
                res.Headers["Content-Range"] = $"bytes */{content.Length}";
                res.ContentLength64 = 0;
                res.Close();
                return;
            }
            res.StatusCode = 206;
            res.Headers["Content-Range"] = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }
        else
            res.StatusCode = 200;
        var length = content.Length - start;
        res.ContentType = "application/octet-stream";
        res.ContentLength64 = length;
        if (Interlocked.Decrement(ref _brokenTransfersLeft) >= 0)
        {
            res.OutputStream.Write(content, (int)start, (int)(length / 2));
            res.OutputStream.Flush();
            res.Abort(); // the connection closes mid-body
            return;
        }
        res.OutputStream.Write(content, (int)start, (int)length);
        res.Close();
    }

    private bool Authorized(string repo, HttpListenerRequest req, HttpListenerResponse res)
    {
        if (!GatedTokens.TryGetValue(repo, out var token) || req.Headers["Authorization"] == "Bearer " + token)
            return true;
        Write(res, 401, Encoding.UTF8.GetBytes("{\"error\":\"Access to model " + repo + " is restricted.\"}"), "application/json");
        return false;
    }

    private static void NotFound(HttpListenerResponse res) =>
        Write(res, 404, Encoding.UTF8.GetBytes("{\"error\":\"Repository not found\"}"), "application/json");

    private static void Write(HttpListenerResponse res, int status, byte[] body, string type)
    {
        res.StatusCode = status;
        res.ContentType = type;
        res.ContentLength64 = body.Length;
        res.OutputStream.Write(body);
        res.Close();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
