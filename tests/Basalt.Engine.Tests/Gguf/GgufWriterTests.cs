using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tests.Gguf;

public sealed class GgufWriterTests
{
    [Fact]
    public void WriteThenOpen_EveryValueType_RoundTrips()
    {
        var nested = GgufMetadataValue.Array([GgufMetadataValue.Array(new[] { 1, 2 }), GgufMetadataValue.Array(new[] { "x", "yz" })]);
        var bytes = new GgufWriter()
            .Add("t.u8", GgufMetadataValue.From((byte)200))
            .Add("t.i8", GgufMetadataValue.From((sbyte)-100))
            .Add("t.u16", GgufMetadataValue.From((ushort)60000))
            .Add("t.i16", GgufMetadataValue.From((short)-30000))
            .Add("t.u32", 4_000_000_000u)
            .Add("t.i32", -2_000_000_000)
            .Add("t.u64", GgufMetadataValue.From(ulong.MaxValue))
            .Add("t.i64", GgufMetadataValue.From(long.MinValue))
            .Add("t.f32", 3.25f)
            .Add("t.f64", GgufMetadataValue.From(-1e300))
            .Add("t.bool", true)
            .Add("t.str", "héllo\n世界")
            .Add("t.strs", ["a", "", "ccc"])
            .Add("t.floats", [1.5f, -2f])
            .Add("t.ints", [7, -8, 9])
            .Add("t.bools", GgufMetadataValue.Array(new[] { true, false }))
            .Add("t.u64s", GgufMetadataValue.Array(new ulong[] { 1, ulong.MaxValue }))
            .Add("t.doubles", GgufMetadataValue.Array(new[] { 0.5, 1e-300 }))
            .Add("t.empty", GgufMetadataValue.Array(Array.Empty<int>()))
            .Add("t.nested", nested)
            .ToArray();

        using var f = GgufFile.FromBytes(bytes);
        Assert.Equal((byte)200, f.GetValue("t.u8").Value);
        Assert.Equal((sbyte)-100, f.GetValue("t.i8").Value);
        Assert.Equal((ushort)60000, f.GetValue("t.u16").Value);
        Assert.Equal((short)-30000, f.GetValue("t.i16").Value);
        Assert.Equal(4_000_000_000u, f.GetUInt32("t.u32"));
        Assert.Equal(-2_000_000_000, f.GetInt32("t.i32"));
        Assert.Equal(ulong.MaxValue, f.GetValue("t.u64").Value);
        Assert.Equal(long.MinValue, f.GetInt64("t.i64"));
        Assert.Equal(3.25f, f.GetFloat32("t.f32"));
        Assert.Equal(-1e300, f.GetValue("t.f64").Value);
        Assert.True(f.GetBool("t.bool"));
        Assert.Equal("héllo\n世界", f.GetString("t.str"));
        Assert.Equal(["a", "", "ccc"], f.GetStringArray("t.strs"));
        Assert.Equal([1.5f, -2f], f.GetFloat32Array("t.floats"));
        Assert.Equal([7, -8, 9], f.GetInt32Array("t.ints"));
        Assert.Equal(new[] { true, false }, f.GetValue("t.bools").Value);
        Assert.Equal(new ulong[] { 1, ulong.MaxValue }, f.GetValue("t.u64s").Value);
        Assert.Equal([0.5f, 0f], f.GetFloat32Array("t.doubles"));
        Assert.Empty(f.GetInt32Array("t.empty"));
        var n = (GgufMetadataValue[])f.GetValue("t.nested").Value;
        Assert.Equal(GgufValueType.Array, f.GetValue("t.nested").ElementType);
        Assert.Equal(new[] { 1, 2 }, n[0].Value);
        Assert.Equal(new[] { "x", "yz" }, n[1].Value);
        Assert.Equal(20, f.Metadata.Count);
        Assert.Equal("t.u8", f.Metadata[0].Key);
    }

    [Theory]
    [InlineData(2u, 32u)]
    [InlineData(3u, 64u)]
    [InlineData(3u, 1u)]
    public void WriteThenOpen_VersionAndAlignment_TensorsAlignedAndIntact(uint version, uint alignment)
    {
        var a = new float[] { 1, 2, 3, 4, 5, 6 };
        var b = new float[] { -1.5f, 0.25f, 1e-3f };
        var bytes = new GgufWriter(alignment, version)
            .Add(GgufKeys.Architecture, "llama")
            .AddTensor("a", GgmlType.F32, [3, 2], a)
            .AddTensor("b", GgmlType.F32, [3], b)
            .ToArray();

        using var f = GgufFile.FromBytes(bytes);
        Assert.Equal(version, f.Version);
        Assert.Equal(alignment, f.Alignment);
        Assert.Equal(0, f.DataOffset % alignment);
        foreach (var t in f.Tensors)
            Assert.Equal(0, t.Offset % alignment);
        Assert.Equal(a, f.TensorFloats(f.GetTensor("a")).ToArray());
        Assert.Equal(b, f.TensorFloats(f.GetTensor("b")).ToArray());
        Assert.Equal(2, f.GetTensor("a").RowCount);
    }

    [Fact]
    public void WriteToPathThenOpen_MemoryMappedFile_ReadsSameTensor()
    {
        var path = Path.GetTempFileName();
        try
        {
            var values = new float[64];
            for (var i = 0; i < values.Length; i++)
                values[i] = i * 0.5f;
            new GgufWriter().Add(GgufKeys.Architecture, "llama").AddTensor("w", GgmlType.F32, [32, 2], values).WriteTo(path);
            using var f = GgufFile.Open(path);
            Assert.Equal(values, f.TensorFloats(f.GetTensor("w")).ToArray());
            Assert.Equal(new FileInfo(path).Length, f.FileSize);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Add_DuplicateKeyOrTensor_Throws()
    {
        var w = new GgufWriter().Add("k", 1).AddTensor("t", GgmlType.F32, [1], [1f]);
        Assert.Throws<ArgumentException>(() => w.Add("k", 2));
        Assert.Throws<ArgumentException>(() => w.AddTensor("t", GgmlType.F32, [1], [1f]));
    }

    [Fact]
    public void AddTensor_RowNotMultipleOfBlock_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensorBytes("t", GgmlType.Q8_0, [33], new byte[34]));
        Assert.Contains("multiple of 32", e.Message);
    }
}

public sealed class GgufWriterQuantizedTests
{
    [Fact]
    public void AddTensor_EverySupportedType_ReadsBackAsTheSameEncodedRows()
    {
        var writer = new GgufWriter().Add(GgufKeys.Architecture, "llama");
        var values = Basalt.Engine.Tests.Tensors.TensorTestData.Gaussian(512 * 3, seed: 41);
        foreach (var type in Basalt.Engine.Tests.Tensors.TensorTestData.SupportedTypes)
            writer.AddTensor("t." + type, type, [512, 3], values);
        using var f = GgufFile.FromBytes(writer.ToArray());

        foreach (var type in Basalt.Engine.Tests.Tensors.TensorTestData.SupportedTypes)
        {
            var t = f.GetTensor("t." + type);
            Assert.Equal(type, t.Type);
            Assert.Equal(3, t.RowCount);
            var row = new float[512];
            Basalt.Engine.Tensors.TensorOps.DequantizeRow(type, f.TensorRow(t, 2), row);
            var expected = Basalt.Engine.Tests.Tensors.TensorTestData.Decode(type,
                Basalt.Engine.Tests.Tensors.TensorTestData.Encode(type, values.AsSpan(1024, 512).ToArray()), 512);
            Assert.Equal(expected, row);
        }
    }
}
