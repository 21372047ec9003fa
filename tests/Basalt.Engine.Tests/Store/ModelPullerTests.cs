using Basalt.Engine.Gguf;
using Basalt.Engine.Store;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Store;

public sealed class ModelPullerTests : IDisposable
{
    private const string Repo = "acme/tiny-GGUF";
    private const string File1 = "tiny-q4_k_m.gguf";
    private readonly FakeHub _hub = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("basalt-store-").FullName;
    private readonly HttpClient _http = ModelPuller.CreateHttpClient();

    public void Dispose()
    {
        _http.Dispose();
        _hub.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A real GGUF of about 100 KB: a llama header claiming Q4_K_M and two tensors.</summary>
    internal static byte[] TinyGguf(int seed = 1)
    {
        var rng = new Random(seed);
        var values = new float[256 * 100];
        for (var i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() - 0.5);
        var writer = new GgufWriter()
            .Add(GgufKeys.Architecture, "llama")
            .Add(GgufKeys.FileType, 15u)
            .AddTensor("token_embd.weight", GgmlType.F32, [256, 100], values)
            .AddTensor("output.weight", GgmlType.Q4_K, [256, 4], values.AsSpan(0, 1024));
        using var stream = new MemoryStream();
        writer.WriteTo(stream);
        return stream.ToArray();
    }

    private ModelPuller Puller(string? token = null) => new(new ModelStore(_dir), _http, _hub.Endpoint, token);

    private Task<StoredModel> Pull(string reference, string? token = null) =>
        Puller(token).PullAsync(ModelReference.Parse(reference), null, CancellationToken.None);

    [Fact]
    public async Task PullAsync_NamedFile_FollowsRedirectVerifiesAndRegisters()
    {
        var bytes = TinyGguf();
        _hub.Add(Repo, File1, bytes);

        var model = await Pull($"{Repo}:{File1}");

        Assert.Equal($"{Repo}:{File1}", model.Name);
        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        Assert.Equal(FakeHub.Sha256(bytes), model.Sha256);
        Assert.Equal(bytes.Length, model.Size);
        Assert.Equal("llama", model.Architecture);
        Assert.Equal("Q4_K_M", model.Quantization);
        Assert.Equal(256 * 100 + 256 * 4, model.Parameters);
        Assert.False(File.Exists(model.Path + ".partial"));
        Assert.Contains(_hub.Requests, r => r.Path == $"/cdn/{Repo}/{File1}");
        var listed = Assert.Single(new ModelStore(_dir).List());
        Assert.Equal(model with { PulledAt = listed.PulledAt }, listed);
    }

    [Fact]
    public async Task PullAsync_NoFileAndSeveralGgufs_PicksQ4KM()
    {
        _hub.Add(Repo, "tiny-q8_0.gguf", TinyGguf(2));
        _hub.Add(Repo, "tiny-Q4_K_M.gguf", TinyGguf(3));

        var model = await Pull(Repo);

        Assert.Equal($"{Repo}:tiny-Q4_K_M.gguf", model.Name);
        Assert.Contains(_hub.Requests, r => r.Path == $"/api/models/{Repo}");
    }

    [Fact]
    public async Task PullAsync_NoFileAndNoQ4KM_ListsTheFilesToChooseFrom()
    {
        _hub.Add(Repo, "tiny-q8_0.gguf", TinyGguf(2));
        _hub.Add(Repo, "tiny-f16.gguf", TinyGguf(3));

        var e = await Assert.ThrowsAsync<ModelPullException>(() => Pull(Repo));

        Assert.Contains("2 .gguf files", e.Message);
        Assert.Contains("tiny-q8_0.gguf", e.Message);
        Assert.Contains("tiny-f16.gguf", e.Message);
        Assert.Empty(new ModelStore(_dir).List());
    }

    [Fact]
    public async Task PullAsync_TransferBreaksMidway_ResumesWithRangeAndEndsWithRightSha()
    {
        var bytes = TinyGguf();
        _hub.Add(Repo, File1, bytes);
        _hub.BreakNextTransfers(1);

        var model = await Pull($"{Repo}:{File1}");

        Assert.Equal(FakeHub.Sha256(bytes), model.Sha256);
        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        var cdn = _hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, cdn.Count);
        Assert.Null(cdn[0].Range);
        Assert.Matches(@"^bytes=[1-9][0-9]*-$", cdn[1].Range);
    }

    [Fact]
    public async Task PullAsync_TransferKeepsBreaking_KeepsPartialAndTheNextPullResumes()
    {
        var bytes = TinyGguf();
        _hub.Add(Repo, File1, bytes);
        _hub.BreakNextTransfers(ModelPuller.MaxAttempts);

        var e = await Assert.ThrowsAsync<ModelPullException>(() => Pull($"{Repo}:{File1}"));
        Assert.Contains("run the same command again to resume", e.Message, StringComparison.OrdinalIgnoreCase);
        var partial = Path.Combine(_dir, "acme", "tiny-GGUF", File1 + ".partial");
        var kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, bytes.Length - 1);
        Assert.Empty(new ModelStore(_dir).List());

        var model = await Pull($"{Repo}:{File1}");

        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        Assert.Equal($"bytes={kept}-", _hub.Requests.Last(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Range);
        Assert.False(File.Exists(partial));
    }

    [Fact]
    public async Task PullAsync_WrongSha256_DeletesTheDownloadAndSaysSo()
    {
        _hub.Add(Repo, File1, TinyGguf());
        _hub.AdvertisedSha256 = new string('a', 64);

        var e = await Assert.ThrowsAsync<ModelPullException>(() => Pull($"{Repo}:{File1}"));

        Assert.Contains("sha256 mismatch", e.Message);
        Assert.Contains("deleted", e.Message);
        Assert.Empty(Directory.GetFiles(_dir, "*.gguf*", SearchOption.AllDirectories));
        Assert.Empty(new ModelStore(_dir).List());
    }

    [Fact]
    public async Task PullAsync_MissingFile_Says404AndWhatToCheck()
    {
        _hub.Add(Repo, File1, TinyGguf());

        var e = await Assert.ThrowsAsync<ModelPullException>(() => Pull($"{Repo}:nope.gguf"));

        Assert.Contains("404", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public async Task PullAsync_GatedRepoWithoutToken_AsksForHfToken()
    {
        _hub.Add(Repo, File1, TinyGguf());
        _hub.GatedTokens[Repo] = "hf_secret";

        var e = await Assert.ThrowsAsync<ModelPullException>(() => Pull($"{Repo}:{File1}"));

        Assert.Contains("401", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
    }

    [Fact]
    public async Task PullAsync_GatedRepoWithToken_SendsTokenToTheHubButNotTheCdn()
    {
        _hub.Add(Repo, File1, TinyGguf());
        _hub.GatedTokens[Repo] = "hf_secret";

        await Pull($"{Repo}:{File1}", token: "hf_secret");

        Assert.Equal("Bearer hf_secret", _hub.Requests.Single(r => r.Path.Contains("/resolve/main/", StringComparison.Ordinal)).Authorization);
        Assert.Null(_hub.Requests.Single(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Authorization);
    }

    [Fact]
    public async Task PullAsync_FileIsNotGguf_RejectsAndDeletesIt()
    {
        _hub.Add(Repo, File1, "<html>not a model</html>"u8.ToArray());

        var e = await Assert.ThrowsAsync<ModelPullException>(() => Pull($"{Repo}:{File1}"));

        Assert.Contains("not a readable GGUF", e.Message);
        Assert.Empty(Directory.GetFiles(_dir, "*.gguf*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task PullAsync_CancelledMidTransfer_KeepsPartialAndTheNextPullFinishesIt()
    {
        var bytes = TinyGguf();
        _hub.Add(Repo, File1, bytes);
        using var cts = new CancellationTokenSource();
        var cancelAfter = new CancelOnBytes(cts);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Puller().PullAsync(ModelReference.Parse($"{Repo}:{File1}"), cancelAfter, cts.Token));
        var partial = Path.Combine(_dir, "acme", "tiny-GGUF", File1 + ".partial");
        Assert.True(new FileInfo(partial).Length > 0);
        Assert.Empty(new ModelStore(_dir).List());

        var model = await Pull($"{Repo}:{File1}");

        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        Assert.StartsWith("bytes=", _hub.Requests.Last(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Range);
    }

    private sealed class CancelOnBytes(CancellationTokenSource cts) : IProgress<PullProgress>
    {
        public void Report(PullProgress value)
        {
            if (value.Received > 0)
                cts.Cancel();
        }
    }

    [Fact]
    public async Task PullAsync_Cancelled_LeavesNoRegisteredModel()
    {
        _hub.Add(Repo, File1, TinyGguf());
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Puller().PullAsync(ModelReference.Parse($"{Repo}:{File1}"), null, cts.Token));

        Assert.Empty(new ModelStore(_dir).List());
    }
}
