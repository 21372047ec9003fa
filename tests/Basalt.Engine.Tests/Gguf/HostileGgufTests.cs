using System.Text;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tests.Gguf;

/// <summary>Hand-built malformed files: each must fail with a GgufFormatException that says what is wrong.</summary>
public sealed class HostileGgufTests
{
    // A little-endian byte builder that writes whatever it is told, valid or not.
    private sealed class Raw
    {
        private readonly MemoryStream _ms = new();
        private readonly BinaryWriter _w;
        public Raw() => _w = new BinaryWriter(_ms);
        public Raw U32(uint v) { _w.Write(v); return this; }
        public Raw U64(ulong v) { _w.Write(v); return this; }
        public Raw Bytes(params byte[] b) { _w.Write(b); return this; }
        public Raw Str(string s) { var b = Encoding.UTF8.GetBytes(s); U64((ulong)b.Length); _w.Write(b); return this; }
        public Raw Header(ulong tensors, ulong kvs, uint version = 3) => U32(GgufFile.Magic).U32(version).U64(tensors).U64(kvs);
        public Raw Tensor(string name, GgmlType type, ulong offset, params ulong[] dims)
        {
            Str(name).U32((uint)dims.Length);
            foreach (var d in dims)
                U64(d);
            return U32((uint)type).U64(offset);
        }
        public Raw PadTo(long n) { while (_ms.Length < n) _w.Write((byte)0); return this; }
        public byte[] ToArray() { _w.Flush(); return _ms.ToArray(); }
    }

    private static string Fails(byte[] bytes)
    {
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.FromBytes(bytes, "bad.gguf"));
        Assert.StartsWith("bad.gguf: ", e.Message);
        return e.Problem;
    }

    [Fact]
    public void Open_BadMagic_Fails() => Assert.Contains("bad magic", Fails(new Raw().U32(0x12345678).U32(3).U64(0).U64(0).ToArray()));

    [Fact]
    public void Open_Version1_FailsAskingForReconversion() => Assert.Contains("version 1 is not supported", Fails(new Raw().Header(0, 0, 1).ToArray()));

    [Fact]
    public void Open_UnknownVersion_Fails() => Assert.Contains("unsupported GGUF version 9", Fails(new Raw().Header(0, 0, 9).ToArray()));

    [Fact]
    public void Open_BigEndianFile_FailsSayingSo() => Assert.Contains("big-endian", Fails(new Raw().Header(0, 0, 0x03000000).ToArray()));

    [Fact]
    public void Open_HugeTensorCount_FailsAgainstLimit() =>
        Assert.Contains("exceeds the limit", Fails(new Raw().Header(ulong.MaxValue, 0).ToArray()));

    [Fact]
    public void Open_CountsLargerThanFile_Fails() =>
        Assert.Contains("cannot fit", Fails(new Raw().Header(1000, 1000).ToArray()));

    [Fact]
    public void Open_StringLengthPastEnd_Fails() =>
        Assert.Contains("runs past the end", Fails(new Raw().Header(0, 1).Str("k").U32((uint)GgufValueType.String).U64(1_000_000).PadTo(64).ToArray()));

    [Fact]
    public void Open_StringLengthHuge_FailsAgainstLimit() =>
        Assert.Contains("exceeds the limit", Fails(new Raw().Header(0, 1).U64(ulong.MaxValue).PadTo(64).ToArray()));

    [Fact]
    public void Open_ArrayLengthHuge_Fails() =>
        Assert.Contains("array of", Fails(new Raw().Header(0, 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.UInt64).U64(1UL << 40).PadTo(64).ToArray()));

    [Fact]
    public void Open_ArrayLongerThanRemainingBytes_Fails() =>
        Assert.Contains("runs past the end", Fails(new Raw().Header(0, 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.UInt64).U64(100).PadTo(64).ToArray()));

    [Fact]
    public void Open_ArraysNestedTooDeep_Fails()
    {
        var r = new Raw().Header(0, 1).Str("k").U32((uint)GgufValueType.Array);
        for (var i = 0; i < 20; i++)
            r.U32((uint)GgufValueType.Array).U64(1);
        Assert.Contains("nests arrays deeper", Fails(r.PadTo(512).ToArray()));
    }

    [Fact]
    public void Open_UnknownValueType_Fails() =>
        Assert.Contains("unknown value type 99", Fails(new Raw().Header(0, 1).Str("k").U32(99).PadTo(64).ToArray()));

    [Fact]
    public void Open_BoolByteNotZeroOrOne_Fails() =>
        Assert.Contains("bool", Fails(new Raw().Header(0, 1).Str("k").U32((uint)GgufValueType.Bool).Bytes(7).PadTo(64).ToArray()));

    [Fact]
    public void Open_DuplicateKey_Fails() =>
        Assert.Contains("duplicate metadata key 'k'", Fails(new Raw().Header(0, 2).Str("k").U32(4).U32(1).Str("k").U32(4).U32(2).ToArray()));

    [Fact]
    public void Open_AlignmentNotPowerOfTwo_Fails() =>
        Assert.Contains("power of two", Fails(new Raw().Header(0, 1).Str(GgufKeys.Alignment).U32((uint)GgufValueType.UInt32).U32(48).ToArray()));

    [Fact]
    public void Open_AlignmentWrongType_Fails() =>
        Assert.Contains("must be a uint32", Fails(new Raw().Header(0, 1).Str(GgufKeys.Alignment).U32((uint)GgufValueType.String).Str("32").ToArray()));

    [Fact]
    public void Open_TooManyDimensions_Fails() =>
        Assert.Contains("5 dimensions", Fails(new Raw().Header(1, 0).Tensor("t", GgmlType.F32, 0, 1, 1, 1, 1, 1).PadTo(256).ToArray()));

    [Fact]
    public void Open_ShapeProductOverflows_Fails() =>
        Assert.Contains("overflows", Fails(new Raw().Header(1, 0).Tensor("t", GgmlType.F32, 0, 1UL << 32, 1UL << 32).PadTo(256).ToArray()));

    [Fact]
    public void Open_NegativeDimension_Fails() =>
        Assert.Contains("negative", Fails(new Raw().Header(1, 0).Tensor("t", GgmlType.F32, 0, ulong.MaxValue).PadTo(256).ToArray()));

    [Fact]
    public void Open_UnknownTensorType_Fails() =>
        Assert.Contains("unknown type id 77", Fails(new Raw().Header(1, 0).Tensor("t", (GgmlType)77, 0, 4).PadTo(256).ToArray()));

    [Fact]
    public void Open_RowNotMultipleOfBlock_Fails() =>
        Assert.Contains("not a multiple of Q4_K's block size 256", Fails(new Raw().Header(1, 0).Tensor("t", GgmlType.Q4_K, 0, 100).PadTo(256).ToArray()));

    [Fact]
    public void Open_MisalignedOffset_Fails() =>
        Assert.Contains("not a multiple of the alignment", Fails(new Raw().Header(1, 0).Tensor("t", GgmlType.F32, 4, 1).PadTo(256).ToArray()));

    [Fact]
    public void Open_TensorDataPastEnd_FailsMentioningTruncation() =>
        Assert.Contains("truncated", Fails(new Raw().Header(1, 0).Tensor("t", GgmlType.F32, 0, 1000).PadTo(256).ToArray()));

    [Fact]
    public void Open_HugeOffset_Fails() =>
        Assert.Contains("offset", Fails(new Raw().Header(1, 0).Tensor("t", GgmlType.F32, 1UL << 62, 1).PadTo(256).ToArray()));

    [Fact]
    public void Open_DuplicateTensorName_Fails() =>
        Assert.Contains("duplicate tensor name 't'", Fails(new Raw().Header(2, 0).Tensor("t", GgmlType.F32, 0, 1).Tensor("t", GgmlType.F32, 32, 1).PadTo(256).ToArray()));

    [Fact]
    public void Open_TruncatedValidFile_FailsEveryPrefix()
    {
        var valid = new GgufWriter().Add(GgufKeys.Architecture, "llama").Add("x", [1f, 2f]).AddTensor("w", GgmlType.F32, [8], new float[8]).ToArray();
        using (GgufFile.FromBytes(valid)) { }
        // Every prefix that cuts into the header, metadata, tensor table or tensor data must be rejected.
        // The 32 bytes of tensor data end the file (already aligned, so no padding follows).
        for (var n = 0; n < valid.Length; n++)
            Assert.Throws<GgufFormatException>(() => GgufFile.FromBytes(valid.AsSpan(0, n).ToArray()));
    }
}
