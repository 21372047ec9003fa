using Basalt.Engine.Store;

namespace Basalt.Engine.Tests.Store;

public sealed class ModelStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("basalt-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteModel(string name)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, ModelPullerTests.TinyGguf());
        return path;
    }

    [Fact]
    public void Resolve_RegisteredNameOrPath_ReturnsTheFile()
    {
        var store = new ModelStore(_dir);
        var path = WriteModel("a.gguf");
        store.Register("acme/a:a.gguf", path, "", "", DateTimeOffset.UnixEpoch);

        Assert.Equal(path, store.Resolve("ACME/a:a.gguf"));
        Assert.Equal(path, store.Resolve(path));
        Assert.Null(store.Resolve("acme/unknown"));
    }

    [Fact]
    public void Remove_RegisteredModel_DeletesFileAndEntry()
    {
        var store = new ModelStore(_dir);
        var path = WriteModel("a.gguf");
        store.Register("a", path, "", "", DateTimeOffset.UnixEpoch);
        store.Register("b", WriteModel("b.gguf"), "", "", DateTimeOffset.UnixEpoch);

        Assert.NotNull(store.Remove("a"));

        Assert.False(File.Exists(path));
        Assert.Equal("b", Assert.Single(new ModelStore(_dir).List()).Name);
        Assert.Null(store.Remove("a"));
    }

    [Fact]
    public void Register_NotAGguf_ThrowsAndLeavesTheIndexAlone()
    {
        var store = new ModelStore(_dir);
        var path = Path.Combine(_dir, "x.gguf");
        File.WriteAllText(path, "hello");

        Assert.Throws<Basalt.Engine.Gguf.GgufFormatException>(() => store.Register("x", path, "", "", DateTimeOffset.UnixEpoch));
        Assert.Empty(store.List());
    }

    [Fact]
    public void List_DamagedIndex_SaysWhichFileToFix()
    {
        File.WriteAllText(Path.Combine(_dir, ModelStore.IndexFileName), "{not json");

        var e = Assert.Throws<InvalidDataException>(() => new ModelStore(_dir).List());

        Assert.Contains(ModelStore.IndexFileName, e.Message);
    }

    [Theory]
    [InlineData("acme")]
    [InlineData("acme/")]
    [InlineData("../etc:passwd")]
    [InlineData("acme/repo:../../x.gguf")]
    [InlineData("acme/repo:")]
    [InlineData("a/b/c")]
    public void Parse_Malformed_ThrowsWithAnExample(string text)
    {
        var e = Assert.Throws<FormatException>(() => ModelReference.Parse(text));
        Assert.Contains("OWNER/REPO", e.Message);
    }

    [Fact]
    public void Parse_FileInSubfolder_KeepsIt()
    {
        var r = ModelReference.Parse("acme/repo:q4/model.gguf");
        Assert.Equal(("acme", "repo", "q4/model.gguf"), (r.Owner, r.Repository, r.File));
    }
}
