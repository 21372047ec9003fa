using Basalt.Engine.Gguf;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Gguf;

public sealed class GgufFileTests
{
    [Fact]
    public void Open_Stories260K_ReadsHyperParametersTokenizerAndTensors()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        using var file = GgufFile.Open(path);

        Assert.Equal(3u, file.Version);
        Assert.Equal("llama", file.Architecture);
        string Arch(string key) => GgufKeys.ForArch(key, file.Architecture);
        Assert.Equal(5, file.GetInt32(Arch(GgufKeys.BlockCount)));
        Assert.Equal(64, file.GetInt32(Arch(GgufKeys.EmbeddingLength)));
        Assert.Equal(172, file.GetInt32(Arch(GgufKeys.FeedForwardLength)));
        Assert.Equal(8, file.GetInt32(Arch(GgufKeys.HeadCount)));
        Assert.Equal(4, file.GetInt32(Arch(GgufKeys.HeadCountKv)));
        Assert.InRange(file.GetFloat32(Arch(GgufKeys.LayerNormRmsEpsilon)), 1e-7f, 1e-4f);
        Assert.Equal("llama", file.GetString(GgufKeys.TokenizerModel));
        var tokens = file.GetStringArray(GgufKeys.TokenizerTokens);
        Assert.Equal(512, tokens.Length);
        Assert.Equal(512, file.GetFloat32Array(GgufKeys.TokenizerScores).Length);
        Assert.Equal(512, file.GetInt32Array(GgufKeys.TokenizerTokenType).Length);
        Assert.Equal(1, file.GetInt32(GgufKeys.TokenizerBosId));

        var embd = file.GetTensor(GgufTensorNames.TokenEmbedding);
        Assert.Equal(GgmlType.F32, embd.Type);
        Assert.Equal(new long[] { 64, 512 }, embd.Dimensions);
        Assert.Equal(64L * 512 * 4, embd.ByteSize);
        var q = file.GetTensor(GgufTensorNames.Block(4, GgufTensorNames.AttnQ));
        Assert.Equal(new long[] { 64, 64 }, q.Dimensions);
        var k = file.GetTensor(GgufTensorNames.Block(0, GgufTensorNames.AttnK));
        Assert.Equal(new long[] { 64, 32 }, k.Dimensions);
        Assert.Equal(5 * 9 + 3, file.Tensors.Count); // nine per block, plus embedding, final norm and output
        Assert.True(file.TryGetTensor(GgufTensorNames.Output, out _));
        Assert.Equal(0, file.DataOffset % file.Alignment);

        // Real weights: finite, not all zero, and rows line up with the whole-tensor span.
        var floats = file.TensorFloats(embd);
        Assert.Equal(64 * 512, floats.Length);
        var nonZero = 0;
        foreach (var f in floats)
        {
            Assert.True(float.IsFinite(f));
            if (f != 0)
                nonZero++;
        }
        Assert.True(nonZero > floats.Length / 2);
        Assert.True(file.TensorRow(embd, 3).SequenceEqual(file.TensorData(embd).Slice(3 * 64 * 4, 64 * 4)));
    }

    [Fact]
    public void Open_MissingFile_ThrowsFormatExceptionNamingFile()
    {
        var path = Path.Combine(Path.GetTempPath(), "basalt-no-such-" + Guid.NewGuid() + ".gguf");
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Open_EmptyFile_ThrowsFormatExceptionAboutHeader()
    {
        var path = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("header", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Getters_MissingKeyOrWrongType_ThrowClearErrors()
    {
        using var file = GgufFile.FromBytes(new GgufWriter().Add("a.text", "hi").Add("a.num", 5u).Add("a.big", GgufMetadataValue.From(ulong.MaxValue)).ToArray(), "t.gguf");

        var missing = Assert.Throws<GgufMetadataException>(() => file.GetString("a.none"));
        Assert.Contains("'a.none' is missing", missing.Message);
        Assert.Contains("t.gguf", missing.Message);
        var wrong = Assert.Throws<GgufMetadataException>(() => file.GetUInt32("a.text"));
        Assert.Contains("should be an integer but is String", wrong.Message);
        Assert.Throws<GgufMetadataException>(() => file.GetInt32("a.big"));
        Assert.Throws<GgufMetadataException>(() => file.GetStringArray("a.text"));
        Assert.Equal(7u, file.GetUInt32("a.none", 7u));
        Assert.Equal(5, file.GetInt32("a.num"));
        Assert.Equal(5f, file.GetFloat32("a.num"));
        Assert.Equal("fallback", file.GetString("a.none", "fallback"));
    }

    [Fact]
    public void GetTensor_Missing_ThrowsFormatExceptionNamingTensor()
    {
        using var file = GgufFile.FromBytes(new GgufWriter().ToArray(), "t.gguf");
        var e = Assert.Throws<GgufFormatException>(() => file.GetTensor("output.weight"));
        Assert.Contains("'output.weight' is missing", e.Message);
    }
}
