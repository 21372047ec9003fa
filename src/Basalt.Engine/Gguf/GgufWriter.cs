using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Gguf;

/// <summary>Builds a GGUF file: metadata of every value type and tensors in any type <see cref="TensorOps"/> can quantize to,
/// laid out at the chosen alignment. Tensor data is held in memory until written.</summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufMetadataValue>> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<(string Name, GgmlType Type, long[] Shape, byte[] Data)> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    /// <summary>Creates a writer for GGUF <paramref name="version"/> (2 or 3) with data aligned to <paramref name="alignment"/> bytes.</summary>
    public GgufWriter(uint alignment = GgufLimits.DefaultAlignment, uint version = 3)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > GgufLimits.MaxAlignment)
            throw new ArgumentOutOfRangeException(nameof(alignment), $"Alignment must be a power of two up to {GgufLimits.MaxAlignment}.");
        if (version is not (2 or 3))
            throw new ArgumentOutOfRangeException(nameof(version), "Only GGUF versions 2 and 3 can be written.");
        Alignment = alignment;
        Version = version;
        if (alignment != GgufLimits.DefaultAlignment)
            Add(GgufKeys.Alignment, GgufMetadataValue.From(alignment));
    }

    /// <summary>Alignment of the data section and each tensor.</summary>
    public uint Alignment { get; }

    /// <summary>GGUF version written in the header.</summary>
    public uint Version { get; }

    /// <summary>Adds a metadata entry; keys must be unique.</summary>
    public GgufWriter Add(string key, GgufMetadataValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_keys.Add(key))
            throw new ArgumentException($"Metadata key '{key}' was already added.", nameof(key));
        _metadata.Add(new(key, value));
        return this;
    }

    /// <summary>Adds a string entry.</summary>
    public GgufWriter Add(string key, string value) => Add(key, GgufMetadataValue.From(value));
    /// <summary>Adds a uint32 entry.</summary>
    public GgufWriter Add(string key, uint value) => Add(key, GgufMetadataValue.From(value));
    /// <summary>Adds an int32 entry.</summary>
    public GgufWriter Add(string key, int value) => Add(key, GgufMetadataValue.From(value));
    /// <summary>Adds a float32 entry.</summary>
    public GgufWriter Add(string key, float value) => Add(key, GgufMetadataValue.From(value));
    /// <summary>Adds a bool entry.</summary>
    public GgufWriter Add(string key, bool value) => Add(key, GgufMetadataValue.From(value));
    /// <summary>Adds a string-array entry.</summary>
    public GgufWriter Add(string key, string[] value) => Add(key, GgufMetadataValue.Array(value));
    /// <summary>Adds a float32-array entry.</summary>
    public GgufWriter Add(string key, float[] value) => Add(key, GgufMetadataValue.Array(value));
    /// <summary>Adds an int32-array entry.</summary>
    public GgufWriter Add(string key, int[] value) => Add(key, GgufMetadataValue.Array(value));

    /// <summary>Adds a tensor from F32 values (ggml order: shape[0] is the row length), converting or quantizing them to <paramref name="type"/>.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, ReadOnlySpan<long> shape, ReadOnlySpan<float> values)
    {
        var count = CheckShape(name, type, shape);
        if (values.Length != count)
            throw new ArgumentException($"Tensor '{name}' of shape [{string.Join(", ", shape.ToArray())}] needs {count} values; got {values.Length}.", nameof(values));
        var rowLength = (int)shape[0];
        var rowBytes = (int)GgmlTypes.RowSize(type, rowLength);
        var rows = rowLength == 0 ? 0 : count / rowLength;
        var data = new byte[checked(rows * rowBytes)];
        for (long r = 0; r < rows; r++)
            TensorOps.QuantizeRow(type, values.Slice((int)(r * rowLength), rowLength), data.AsSpan((int)(r * rowBytes), rowBytes));
        _tensors.Add((name, type, shape.ToArray(), data));
        return this;
    }

    /// <summary>Adds a tensor whose data is already encoded in <paramref name="type"/>.</summary>
    public GgufWriter AddTensorBytes(string name, GgmlType type, ReadOnlySpan<long> shape, ReadOnlySpan<byte> data)
    {
        var count = CheckShape(name, type, shape);
        var size = count / GgmlTypes.BlockSize(type) * GgmlTypes.BlockBytes(type);
        if (data.Length != size)
            throw new ArgumentException($"Tensor '{name}' needs {size} bytes of {type}; got {data.Length}.", nameof(data));
        _tensors.Add((name, type, shape.ToArray(), data.ToArray()));
        return this;
    }

    private long CheckShape(string name, GgmlType type, ReadOnlySpan<long> shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!GgmlTypes.IsDefined((uint)type))
            throw new ArgumentOutOfRangeException(nameof(type), $"Unknown tensor type {(uint)type}.");
        if (shape.Length is 0 or > GgufLimits.MaxDimensions)
            throw new ArgumentException($"Tensor '{name}' needs 1 to {GgufLimits.MaxDimensions} dimensions.", nameof(shape));
        long count = 1;
        foreach (var d in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
            count = checked(count * d);
        }
        if (shape[0] % GgmlTypes.BlockSize(type) != 0)
            throw new ArgumentException($"Tensor '{name}': {type} rows need a multiple of {GgmlTypes.BlockSize(type)} values; got {shape[0]}.", nameof(shape));
        if (count > int.MaxValue)
            throw new ArgumentException($"Tensor '{name}' has {count} values; the writer holds at most {int.MaxValue}.", nameof(shape));
        if (!_tensorNames.Add(name))
            throw new ArgumentException($"Tensor '{name}' was already added.", nameof(name));
        return count;
    }

    /// <summary>Writes the file to <paramref name="path"/>.</summary>
    public void WriteTo(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        WriteTo(stream);
    }

    /// <summary>Returns the file as bytes.</summary>
    public byte[] ToArray()
    {
        using var ms = new MemoryStream();
        WriteTo(ms);
        return ms.ToArray();
    }

    /// <summary>Writes the file to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        var w = new Output(stream);
        w.U32(GgufFile.Magic);
        w.U32(Version);
        w.U64((ulong)_tensors.Count);
        w.U64((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            w.Str(key);
            w.U32((uint)value.Type);
            WriteValue(w, value);
        }
        long offset = 0;
        foreach (var (name, type, shape, data) in _tensors)
        {
            w.Str(name);
            w.U32((uint)shape.Length);
            foreach (var d in shape)
                w.U64((ulong)d);
            w.U32((uint)type);
            w.U64((ulong)offset);
            offset = AlignUp(offset + data.Length);
        }
        w.Pad(AlignUp(w.Position) - w.Position);
        foreach (var (_, _, _, data) in _tensors)
        {
            w.Raw(data);
            w.Pad(AlignUp(data.Length) - data.Length);
        }
        w.Flush();
    }

    private long AlignUp(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private static void WriteValue(Output w, GgufMetadataValue value)
    {
        switch (value.Value)
        {
            case byte v: w.Raw([v]); break;
            case sbyte v: w.Raw([(byte)v]); break;
            case ushort v: w.U16(v); break;
            case short v: w.U16((ushort)v); break;
            case uint v: w.U32(v); break;
            case int v: w.U32((uint)v); break;
            case ulong v: w.U64(v); break;
            case long v: w.U64((ulong)v); break;
            case float v: w.U32(BitConverter.SingleToUInt32Bits(v)); break;
            case double v: w.U64(BitConverter.DoubleToUInt64Bits(v)); break;
            case bool v: w.Raw([v ? (byte)1 : (byte)0]); break;
            case string v: w.Str(v); break;
            case Array a:
                w.U32((uint)value.ElementType);
                w.U64((ulong)a.Length);
                switch (a)
                {
                    case string[] strings:
                        foreach (var s in strings)
                            w.Str(s);
                        break;
                    case bool[] bools:
                        foreach (var b in bools)
                            w.Raw([b ? (byte)1 : (byte)0]);
                        break;
                    case GgufMetadataValue[] nested:
                        foreach (var n in nested)
                            WriteValue(w, n);
                        break;
                    case byte[] x: w.Raw(x); break;
                    case sbyte[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case ushort[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case short[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case uint[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case int[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case ulong[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case long[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case float[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    case double[] x: w.Raw(MemoryMarshal.AsBytes(x.AsSpan())); break;
                    default: throw new InvalidOperationException($"Unsupported array type {a.GetType()}.");
                }
                break;
            default:
                throw new InvalidOperationException($"Unsupported metadata value {value.Value.GetType()}.");
        }
    }

    // Little-endian output with a running position; the buffered stream keeps the many small writes cheap.
    private sealed class Output(Stream stream)
    {
        private readonly BufferedStream _s = new(stream, 1 << 16);
        private readonly byte[] _scratch = new byte[8];

        public long Position { get; private set; }

        public void U16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(_scratch, v); Raw(_scratch.AsSpan(0, 2)); }
        public void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_scratch, v); Raw(_scratch.AsSpan(0, 4)); }
        public void U64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_scratch, v); Raw(_scratch.AsSpan(0, 8)); }

        public void Str(string s)
        {
            var n = Encoding.UTF8.GetByteCount(s);
            U64((ulong)n);
            var buf = ArrayPool<byte>.Shared.Rent(n);
            try
            {
                Encoding.UTF8.GetBytes(s, buf);
                Raw(buf.AsSpan(0, n));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buf);
            }
        }

        public void Raw(ReadOnlySpan<byte> bytes)
        {
            _s.Write(bytes);
            Position += bytes.Length;
        }

        public void Pad(long n)
        {
            for (long i = 0; i < n; i++)
                _s.WriteByte(0);
            Position += n;
        }

        public void Flush() => _s.Flush();
    }
}
