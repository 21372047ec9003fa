using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;

namespace Basalt.Engine.Gguf;

/// <summary>A GGUF file (versions 2 and 3) opened read-only: metadata parsed up front, tensor data memory-mapped.</summary>
/// <remarks>Every count, length, offset and size in the file is checked against <see cref="GgufLimits"/> and the file length;
/// a malformed file throws <see cref="GgufFormatException"/>. Spans handed out stay valid until the file is disposed.</remarks>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    private readonly Dictionary<string, GgufMetadataValue> _metadata;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private readonly IDisposable? _owner;
    private byte* _base;

    private GgufFile(string name, byte* basePtr, long length, IDisposable? owner)
    {
        Name = name;
        _base = basePtr;
        FileSize = length;
        _owner = owner;
        var parser = new Parser(name, basePtr, length);
        try
        {
            parser.Parse();
        }
        catch (GgufFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is OverflowException or DecoderFallbackException)
        {
            throw new GgufFormatException(name, e.Message);
        }
        Version = parser.Version;
        Alignment = parser.Alignment;
        DataOffset = parser.DataOffset;
        Metadata = parser.Entries;
        _metadata = parser.ByKey;
        Tensors = parser.Tensors;
        _tensorsByName = parser.TensorsByName;
    }

    /// <summary>The path (or name) the file was opened from; used in error messages.</summary>
    public string Name { get; }

    /// <summary>The GGUF version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>Alignment of the data section and of every tensor's data (general.alignment, default 32).</summary>
    public uint Alignment { get; }

    /// <summary>Absolute offset of the data section in the file.</summary>
    public long DataOffset { get; }

    /// <summary>Length of the file in bytes.</summary>
    public long FileSize { get; }

    /// <summary>Metadata entries in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> Metadata { get; }

    /// <summary>Tensor entries in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>general.architecture, e.g. "llama"; throws when absent.</summary>
    public string Architecture => GetString(GgufKeys.Architecture);

    /// <summary>Opens and memory-maps the file at <paramref name="path"/>; throws <see cref="GgufFormatException"/> for a malformed file.</summary>
    public static GgufFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GgufFormatException(path, $"cannot open the file ({e.Message})");
        }
        var length = stream.Length;
        if (length < GgufLimits.HeaderBytes)
        {
            stream.Dispose();
            throw new GgufFormatException(path, $"the file is {length} bytes, shorter than the {GgufLimits.HeaderBytes}-byte header");
        }
        var mapping = new Mapping(stream, length);
        try
        {
            return new GgufFile(path, mapping.Pointer, length, mapping);
        }
        catch
        {
            mapping.Dispose();
            throw;
        }
    }

    /// <summary>Parses a GGUF image held in memory (tests and fuzzing); the array is pinned until disposal.</summary>
    internal static GgufFile FromBytes(byte[] bytes, string name = "<memory>")
    {
        if (bytes.Length < GgufLimits.HeaderBytes)
            throw new GgufFormatException(name, $"the file is {bytes.Length} bytes, shorter than the {GgufLimits.HeaderBytes}-byte header");
        var pin = new Pin(bytes);
        try
        {
            return new GgufFile(name, pin.Pointer, bytes.Length, pin);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    // ---- metadata ----

    /// <summary>True when the key is present.</summary>
    public bool ContainsKey(string key) => _metadata.ContainsKey(key);

    /// <summary>The value under <paramref name="key"/>, if present.</summary>
    public bool TryGetValue(string key, out GgufMetadataValue value) => _metadata.TryGetValue(key, out value!);

    /// <summary>The value under <paramref name="key"/>; throws <see cref="GgufMetadataException"/> when missing.</summary>
    public GgufMetadataValue GetValue(string key) =>
        _metadata.TryGetValue(key, out var v) ? v : throw new GgufMetadataException($"{Name}: metadata key '{key}' is missing.");

    /// <summary>A string value; throws when missing or not a string.</summary>
    public string GetString(string key) => GetValue(key).Value as string ?? throw WrongType(key, "a string");

    /// <summary>A string value, or <paramref name="fallback"/> when missing; throws when present with another type.</summary>
    public string? GetString(string key, string? fallback) => ContainsKey(key) ? GetString(key) : fallback;

    /// <summary>An integer value that fits in uint32 (any integer type accepted); throws when missing, not an integer or out of range.</summary>
    public uint GetUInt32(string key)
    {
        var l = GetInteger(key);
        return l is >= 0 and <= uint.MaxValue ? (uint)l : throw OutOfRange(key, l, "uint32");
    }

    /// <summary>Like <see cref="GetUInt32(string)"/>, or <paramref name="fallback"/> when missing.</summary>
    public uint GetUInt32(string key, uint fallback) => ContainsKey(key) ? GetUInt32(key) : fallback;

    /// <summary>An integer value that fits in int32 (any integer type accepted); throws when missing, not an integer or out of range.</summary>
    public int GetInt32(string key)
    {
        var l = GetInteger(key);
        return l is >= int.MinValue and <= int.MaxValue ? (int)l : throw OutOfRange(key, l, "int32");
    }

    /// <summary>Like <see cref="GetInt32(string)"/>, or <paramref name="fallback"/> when missing.</summary>
    public int GetInt32(string key, int fallback) => ContainsKey(key) ? GetInt32(key) : fallback;

    /// <summary>An integer value as int64 (uint64 above long.MaxValue is out of range).</summary>
    public long GetInt64(string key) => GetInteger(key);

    /// <summary>A float value (float32 or float64 accepted; integers too, as GGUF writers sometimes store 10000 as an int).</summary>
    public float GetFloat32(string key) =>
        GetValue(key).TryGetDouble(out var d) ? (float)d : throw WrongType(key, "a number");

    /// <summary>Like <see cref="GetFloat32(string)"/>, or <paramref name="fallback"/> when missing.</summary>
    public float GetFloat32(string key, float fallback) => ContainsKey(key) ? GetFloat32(key) : fallback;

    /// <summary>A bool value; throws when missing or not a bool.</summary>
    public bool GetBool(string key) => GetValue(key).Value is bool b ? b : throw WrongType(key, "a bool");

    /// <summary>Like <see cref="GetBool(string)"/>, or <paramref name="fallback"/> when missing.</summary>
    public bool GetBool(string key, bool fallback) => ContainsKey(key) ? GetBool(key) : fallback;

    /// <summary>An array of strings; throws when missing or of another type.</summary>
    public string[] GetStringArray(string key) => GetValue(key).Value as string[] ?? throw WrongType(key, "an array of strings");

    /// <summary>An array of floats (float32 elements, or float64 converted); throws when missing or of another type.</summary>
    public float[] GetFloat32Array(string key)
    {
        var v = GetValue(key).Value;
        if (v is float[] f)
            return f;
        if (v is double[] d)
        {
            var r = new float[d.Length];
            for (var i = 0; i < d.Length; i++)
                r[i] = (float)d[i];
            return r;
        }
        throw WrongType(key, "an array of floats");
    }

    /// <summary>An array of int32 (any integer element type whose values fit); throws when missing, of another type or out of range.</summary>
    public int[] GetInt32Array(string key)
    {
        var value = GetValue(key);
        if (value.Value is int[] ints)
            return ints;
        if (value.Type != GgufValueType.Array || value.Value is not Array a || value.ElementType is GgufValueType.Float32
            or GgufValueType.Float64 or GgufValueType.Bool or GgufValueType.String or GgufValueType.Array)
            throw WrongType(key, "an array of integers");
        var r = new int[a.Length];
        for (var i = 0; i < a.Length; i++)
        {
            var l = Convert.ToDecimal(a.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            if (l is < int.MinValue or > int.MaxValue)
                throw new GgufMetadataException($"{Name}: metadata key '{key}' element {i} ({l}) does not fit in int32.");
            r[i] = (int)l;
        }
        return r;
    }

    private long GetInteger(string key) =>
        GetValue(key).TryGetInt64(out var l) ? l : throw WrongType(key, "an integer");

    private GgufMetadataException WrongType(string key, string wanted)
    {
        var v = GetValue(key);
        var actual = v.Type == GgufValueType.Array ? $"an array of {v.ElementType}" : v.Type.ToString();
        return new GgufMetadataException($"{Name}: metadata key '{key}' should be {wanted} but is {actual}.");
    }

    private GgufMetadataException OutOfRange(string key, long value, string wanted) =>
        new($"{Name}: metadata key '{key}' = {value} does not fit in {wanted}.");

    // ---- tensors ----

    /// <summary>The tensor named <paramref name="name"/>, if present.</summary>
    public bool TryGetTensor(string name, out GgufTensorInfo tensor) => _tensorsByName.TryGetValue(name, out tensor!);

    /// <summary>The tensor named <paramref name="name"/>; throws <see cref="GgufFormatException"/> when the file lacks it.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        _tensorsByName.TryGetValue(name, out var t) ? t : throw new GgufFormatException(Name, $"tensor '{name}' is missing");

    /// <summary>Pointer to a tensor's data; valid until disposal. For tensors larger than 2 GiB, where a span cannot reach.</summary>
    public byte* TensorPointer(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        CheckOwn(tensor);
        return _base + DataOffset + tensor.Offset;
    }

    /// <summary>Drops this process's resident pages of [<paramref name="start"/>, + <paramref name="length"/>) of a memory-mapped file
    /// (whole pages inside the range; Linux madvise MADV_DONTNEED): used once a tensor was copied elsewhere, so the model does not hold
    /// both copies. The file is unchanged and a later read maps the pages back. Elsewhere, and for in-memory images, nothing.</summary>
    internal void ReleasePages(byte* start, long length)
    {
        if (ReleasesPages)
            NativePages.Release(start, length);
    }

    /// <summary>True when <see cref="ReleasePages"/> drops pages: a memory-mapped file on Linux.</summary>
    internal bool ReleasesPages => _owner is Mapping && OperatingSystem.IsLinux();

    /// <summary>A tensor's data as bytes; throws for tensors of 2 GiB or more (use <see cref="TensorRow"/> or <see cref="TensorPointer"/>).</summary>
    public ReadOnlySpan<byte> TensorData(GgufTensorInfo tensor)
    {
        var p = TensorPointer(tensor);
        if (tensor.ByteSize > int.MaxValue)
            throw new InvalidOperationException($"Tensor '{tensor.Name}' is {tensor.ByteSize} bytes, too large for one span; read it by rows.");
        return new ReadOnlySpan<byte>(p, (int)tensor.ByteSize);
    }

    /// <summary>One row (Dimensions[0] elements) of a tensor's data.</summary>
    public ReadOnlySpan<byte> TensorRow(GgufTensorInfo tensor, long row)
    {
        var p = TensorPointer(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, tensor.RowCount);
        var rowBytes = tensor.RowBytes;
        return new ReadOnlySpan<byte>(p + row * rowBytes, checked((int)rowBytes));
    }

    /// <summary>An F32 tensor's data as floats; throws for other types.</summary>
    public ReadOnlySpan<float> TensorFloats(GgufTensorInfo tensor)
    {
        if (tensor.Type != GgmlType.F32)
            throw new InvalidOperationException($"Tensor '{tensor.Name}' is {tensor.Type}, not F32.");
        return MemoryMarshal.Cast<byte, float>(TensorData(tensor));
    }

    private void CheckOwn(GgufTensorInfo tensor)
    {
        if (!_tensorsByName.TryGetValue(tensor.Name, out var own) || !ReferenceEquals(own, tensor))
            throw new ArgumentException($"Tensor '{tensor.Name}' does not belong to {Name}.", nameof(tensor));
    }

    /// <summary>Unmaps the file; spans and pointers handed out become invalid.</summary>
    public void Dispose()
    {
        if (_base == null)
            return;
        _base = null;
        _owner?.Dispose();
    }

    // ---- parsing ----

    private sealed class Parser(string name, byte* p, long length)
    {
        private long _pos;

        public uint Version;
        public uint Alignment = GgufLimits.DefaultAlignment;
        public long DataOffset;
        public readonly List<KeyValuePair<string, GgufMetadataValue>> Entries = [];
        public readonly Dictionary<string, GgufMetadataValue> ByKey = new(StringComparer.Ordinal);
        public readonly List<GgufTensorInfo> Tensors = [];
        public readonly Dictionary<string, GgufTensorInfo> TensorsByName = new(StringComparer.Ordinal);

        // Smallest encodings, used to reject counts that the remaining bytes cannot possibly hold.
        private const int MinKvBytes = 8 + 4 + 1;
        private const int MinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

        private GgufFormatException Fail(string problem) => new(name, problem);

        private long Remaining => length - _pos;

        private void Need(long n, string what)
        {
            if (n < 0 || n > Remaining)
                throw Fail($"truncated: {what} needs {n} bytes at offset {_pos} but the file ends at {length}");
        }

        private uint U32(string what)
        {
            Need(4, what);
            var v = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(p + _pos, 4));
            _pos += 4;
            return v;
        }

        private ulong U64(string what)
        {
            Need(8, what);
            var v = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p + _pos, 8));
            _pos += 8;
            return v;
        }

        private ReadOnlySpan<byte> Bytes(long n, string what)
        {
            Need(n, what);
            var s = new ReadOnlySpan<byte>(p + _pos, (int)n);
            _pos += n;
            return s;
        }

        private string Str(long max, string what)
        {
            var len = U64(what + " length");
            if (len > (ulong)max)
                throw Fail($"{what} length {len} exceeds the limit of {max} bytes");
            if (len > (ulong)Remaining)
                throw Fail($"{what} length {len} runs past the end of the file at offset {_pos}");
            return Encoding.UTF8.GetString(Bytes((long)len, what));
        }

        public void Parse()
        {
            var magic = U32("magic");
            if (magic != Magic)
                throw Fail($"bad magic 0x{magic:X8} (expected \"GGUF\")");
            Version = U32("version");
            if (Version is not (2 or 3))
            {
                var swapped = BinaryPrimitives.ReverseEndianness(Version);
                if (swapped is 2 or 3)
                    throw Fail("big-endian GGUF files are not supported; convert the model as little-endian");
                if (Version == 1)
                    throw Fail("GGUF version 1 is not supported (only 2 and 3); re-convert the model with a current llama.cpp");
                throw Fail($"unsupported GGUF version {Version} (only 2 and 3)");
            }
            var tensorCount = U64("tensor count");
            var kvCount = U64("metadata count");
            if (tensorCount > GgufLimits.MaxTensorCount)
                throw Fail($"tensor count {tensorCount} exceeds the limit of {GgufLimits.MaxTensorCount}");
            if (kvCount > GgufLimits.MaxMetadataCount)
                throw Fail($"metadata count {kvCount} exceeds the limit of {GgufLimits.MaxMetadataCount}");
            if ((long)kvCount * MinKvBytes + (long)tensorCount * MinTensorInfoBytes > Remaining)
                throw Fail($"{kvCount} metadata entries and {tensorCount} tensors cannot fit in a {length}-byte file");

            for (ulong i = 0; i < kvCount; i++)
            {
                var keyAt = _pos;
                var key = Str(GgufLimits.MaxKeyLength, $"metadata key #{i}");
                var type = U32($"type of '{key}'");
                var value = ReadValue(type, key, 0);
                if (!ByKey.TryAdd(key, value))
                    throw Fail($"duplicate metadata key '{key}' at offset {keyAt}");
                Entries.Add(new(key, value));
            }

            if (ByKey.TryGetValue(GgufKeys.Alignment, out var align))
            {
                if (align.Value is not uint a)
                    throw Fail($"{GgufKeys.Alignment} must be a uint32 but is {align.Type}");
                if (a == 0 || (a & (a - 1)) != 0 || a > GgufLimits.MaxAlignment)
                    throw Fail($"{GgufKeys.Alignment} = {a} is not a power of two up to {GgufLimits.MaxAlignment}");
                Alignment = a;
            }

            var infos = new List<(string Name, GgmlType Type, long[] Dims, ulong Offset)>((int)tensorCount);
            for (ulong i = 0; i < tensorCount; i++)
            {
                var tname = Str(GgufLimits.MaxKeyLength, $"tensor name #{i}");
                var nDims = U32($"dimension count of '{tname}'");
                if (nDims is 0 or > GgufLimits.MaxDimensions)
                    throw Fail($"tensor '{tname}' has {nDims} dimensions (1 to {GgufLimits.MaxDimensions} allowed)");
                var dims = new long[nDims];
                for (var d = 0; d < nDims; d++)
                {
                    var dim = U64($"dimension {d} of '{tname}'");
                    if (dim > long.MaxValue)
                        throw Fail($"tensor '{tname}' dimension {d} is {(long)dim} (negative)");
                    dims[d] = (long)dim;
                }
                var type = U32($"type of '{tname}'");
                var offset = U64($"offset of '{tname}'");
                infos.Add((tname, (GgmlType)type, dims, offset));
            }

            DataOffset = AlignUp(_pos, Alignment);
            var dataLength = length - DataOffset; // may be negative for a truncated file; any tensor with data then fails below

            foreach (var (tname, type, dims, offset) in infos)
            {
                if (!GgmlTypes.IsDefined((uint)type))
                    throw Fail($"tensor '{tname}' has unknown type id {(uint)type}");
                long count = 1;
                foreach (var d in dims)
                {
                    if (d != 0 && count > long.MaxValue / d)
                        throw Fail($"tensor '{tname}' shape [{string.Join(", ", dims)}] overflows 64 bits");
                    count *= d;
                }
                var blockSize = GgmlTypes.BlockSize(type);
                if (dims[0] % blockSize != 0)
                    throw Fail($"tensor '{tname}' row length {dims[0]} is not a multiple of {type}'s block size {blockSize}");
                var blocks = count / blockSize;
                var blockBytes = GgmlTypes.BlockBytes(type);
                if (blocks > long.MaxValue / blockBytes)
                    throw Fail($"tensor '{tname}' byte size overflows 64 bits");
                var size = blocks * blockBytes;
                if (offset > long.MaxValue)
                    throw Fail($"tensor '{tname}' offset {offset} is out of range");
                if (offset % Alignment != 0)
                    throw Fail($"tensor '{tname}' offset {offset} is not a multiple of the alignment {Alignment}");
                if (dataLength < 0 || (long)offset > dataLength || size > dataLength - (long)offset)
                    throw Fail($"tensor '{tname}' data ({size} bytes at data offset {offset}) runs past the end of the file " +
                        $"(data section of {Math.Max(0, dataLength)} bytes starts at {DataOffset}); the file may be truncated");
                var info = new GgufTensorInfo(tname, type, dims, count, size, (long)offset);
                if (!TensorsByName.TryAdd(tname, info))
                    throw Fail($"duplicate tensor name '{tname}'");
                Tensors.Add(info);
            }
        }

        private static long AlignUp(long x, uint a) => (x + a - 1) / a * a;

        private GgufMetadataValue ReadValue(uint type, string key, int depth)
        {
            switch ((GgufValueType)type)
            {
                case GgufValueType.UInt8: return GgufMetadataValue.From(Bytes(1, key)[0]);
                case GgufValueType.Int8: return GgufMetadataValue.From((sbyte)Bytes(1, key)[0]);
                case GgufValueType.UInt16: return GgufMetadataValue.From(BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2, key)));
                case GgufValueType.Int16: return GgufMetadataValue.From(BinaryPrimitives.ReadInt16LittleEndian(Bytes(2, key)));
                case GgufValueType.UInt32: return GgufMetadataValue.From(U32(key));
                case GgufValueType.Int32: return GgufMetadataValue.From((int)U32(key));
                case GgufValueType.UInt64: return GgufMetadataValue.From(U64(key));
                case GgufValueType.Int64: return GgufMetadataValue.From((long)U64(key));
                case GgufValueType.Float32: return GgufMetadataValue.From(BitConverter.UInt32BitsToSingle(U32(key)));
                case GgufValueType.Float64: return GgufMetadataValue.From(BitConverter.UInt64BitsToDouble(U64(key)));
                case GgufValueType.Bool:
                    var b = Bytes(1, key)[0];
                    if (b > 1)
                        throw Fail($"metadata key '{key}' is a bool with byte value {b} (must be 0 or 1)");
                    return GgufMetadataValue.From(b == 1);
                case GgufValueType.String: return GgufMetadataValue.From(Str(GgufLimits.MaxStringLength, $"string value of '{key}'"));
                case GgufValueType.Array: return ReadArray(key, depth);
                default: throw Fail($"metadata key '{key}' has unknown value type {type}");
            }
        }

        private GgufMetadataValue ReadArray(string key, int depth)
        {
            if (depth >= GgufLimits.MaxArrayDepth)
                throw Fail($"metadata key '{key}' nests arrays deeper than {GgufLimits.MaxArrayDepth}");
            var elem = U32($"element type of '{key}'");
            var count = U64($"element count of '{key}'");
            if (count > GgufLimits.MaxArrayLength)
                throw Fail($"metadata key '{key}' array of {count} elements exceeds the limit of {GgufLimits.MaxArrayLength}");
            var n = (int)count;
            var min = (GgufValueType)elem switch
            {
                GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
                GgufValueType.UInt16 or GgufValueType.Int16 => 2,
                GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
                GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
                GgufValueType.Array => 12,
                _ => throw Fail($"metadata key '{key}' is an array of unknown value type {elem}"),
            };
            if ((long)n * min > Remaining)
                throw Fail($"metadata key '{key}' array of {count} elements runs past the end of the file");
            switch ((GgufValueType)elem)
            {
                case GgufValueType.UInt8: return GgufMetadataValue.Array(Bytes(n, key).ToArray());
                case GgufValueType.Int8: return GgufMetadataValue.Array(MemoryMarshal.Cast<byte, sbyte>(Bytes(n, key)).ToArray());
                case GgufValueType.UInt16: return GgufMetadataValue.Array(Prim<ushort>(n, key));
                case GgufValueType.Int16: return GgufMetadataValue.Array(Prim<short>(n, key));
                case GgufValueType.UInt32: return GgufMetadataValue.Array(Prim<uint>(n, key));
                case GgufValueType.Int32: return GgufMetadataValue.Array(Prim<int>(n, key));
                case GgufValueType.UInt64: return GgufMetadataValue.Array(Prim<ulong>(n, key));
                case GgufValueType.Int64: return GgufMetadataValue.Array(Prim<long>(n, key));
                case GgufValueType.Float32: return GgufMetadataValue.Array(Prim<float>(n, key));
                case GgufValueType.Float64: return GgufMetadataValue.Array(Prim<double>(n, key));
                case GgufValueType.Bool:
                    var raw = Bytes(n, key);
                    var bools = new bool[n];
                    for (var i = 0; i < n; i++)
                    {
                        if (raw[i] > 1)
                            throw Fail($"metadata key '{key}' element {i} is a bool with byte value {raw[i]}");
                        bools[i] = raw[i] == 1;
                    }
                    return GgufMetadataValue.Array(bools);
                case GgufValueType.String:
                    var strings = new string[n];
                    for (var i = 0; i < n; i++)
                        strings[i] = Str(GgufLimits.MaxStringLength, $"element {i} of '{key}'");
                    return GgufMetadataValue.Array(strings);
                default:
                    var nested = new GgufMetadataValue[n];
                    for (var i = 0; i < n; i++)
                        nested[i] = ReadArray(key, depth + 1);
                    return GgufMetadataValue.Array(nested);
            }
        }

        private T[] Prim<T>(int n, string key) where T : unmanaged
        {
            var bytes = Bytes((long)n * sizeof(T), key);
            var r = MemoryMarshal.Cast<byte, T>(bytes).ToArray(); // the file is little-endian, as is every supported host
            return r;
        }
    }

    private sealed class Mapping : IDisposable
    {
        private readonly FileStream _stream;
        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;

        public Mapping(FileStream stream, long length)
        {
            _stream = stream;
            _file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            _view = _file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            Pointer = ptr + _view.PointerOffset;
        }

        public byte* Pointer { get; }

        public void Dispose()
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
            _stream.Dispose();
        }
    }

    private sealed class Pin(byte[] bytes) : IDisposable
    {
        private GCHandle _handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);

        public byte* Pointer => (byte*)_handle.AddrOfPinnedObject();

        public void Dispose()
        {
            if (_handle.IsAllocated)
                _handle.Free();
        }
    }
}
