using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Models;

/// <summary>A weight matrix of Rows rows of Cols elements: read in place from the file's memory mapping, or from a native copy of the
/// tensor's bytes (repacked into octets or copied unchanged; see <see cref="WeightBinder"/>).</summary>
internal readonly unsafe struct WeightMatrix
{
    public WeightMatrix(GgufFile file, GgufTensorInfo tensor) : this(file, tensor, file.TensorPointer(tensor), WeightLayout.Rows)
    {
    }

    /// <summary>The tensor's bytes held at <paramref name="data"/> (same size as in the file): the file's rows copied there
    /// (<see cref="WeightLayout.Rows"/>) or rewritten as <see cref="WeightLayout.Octets"/>.</summary>
    public WeightMatrix(GgufFile file, GgufTensorInfo tensor, byte* data, WeightLayout layout)
    {
        Name = tensor.Name;
        Type = tensor.Type;
        Cols = checked((int)tensor.RowLength);
        Rows = checked((int)tensor.RowCount);
        RowBytes = tensor.RowBytes;
        Data = data;
        Layout = layout;
        if (!TensorOps.IsSupported(Type))
            throw new GgufFormatException(file.Name, $"tensor '{Name}' has type {GgmlTypes.Name(Type)}, which the local engine cannot compute with (supported: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K); re-quantize the model to one of these");
        if (layout == WeightLayout.Octets && !Q8Octets.Supports(Type, Rows, Cols))
            throw new ArgumentException($"'{Name}' ({GgmlTypes.Name(Type)}, {Rows} rows) cannot be stored as octets.", nameof(tensor));
        Finite = Type == GgmlType.F16 && F16Kernels.AllFinite((ushort*)Data, (long)Rows * Cols);
    }

    public readonly string Name;
    public readonly GgmlType Type;
    public readonly int Rows;
    public readonly int Cols;
    public readonly long RowBytes;
    public readonly byte* Data;
    /// <summary>F16 only: no half of the matrix is an infinity or NaN (scanned once at load), so decoding skips the per-step check.</summary>
    public readonly bool Finite;
    /// <summary>How the rows are stored: as in the file, or repacked at load into octets of rows (<see cref="Q8Octets"/>).</summary>
    public readonly WeightLayout Layout;

    /// <summary>The raw bytes of row <paramref name="row"/> (<see cref="WeightLayout.Rows"/> only).</summary>
    public ReadOnlySpan<byte> Row(int row)
    {
        RequireLayout(WeightLayout.Rows);
        return new(Data + row * RowBytes, (int)RowBytes);
    }

    /// <summary>The raw bytes of rows [start, start + count), back to back (a tile of a batched matmul; <see cref="WeightLayout.Rows"/> only).</summary>
    public ReadOnlySpan<byte> RowRange(int start, int count)
    {
        RequireLayout(WeightLayout.Rows);
        return new(Data + start * RowBytes, checked((int)(count * RowBytes)));
    }

    /// <summary>Octets [start / 8, (start + count) / 8) of a <see cref="WeightLayout.Octets"/> matrix: <paramref name="start"/> and
    /// <paramref name="count"/> multiples of 8 (the same bytes as those rows in the file's layout).</summary>
    public ReadOnlySpan<byte> OctetRange(int start, int count)
    {
        RequireLayout(WeightLayout.Octets);
        if (start % Q8Octets.Rows != 0 || count % Q8Octets.Rows != 0 || start < 0 || count < 0 || start + count > Rows)
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start + count}) of '{Name}' are not whole octets of its {Rows} rows");
        return new(Data + start * RowBytes, checked((int)(count * RowBytes)));
    }

    /// <summary>Row <paramref name="row"/> in the file's encoding: the row itself, or (octets) a copy written into <paramref name="scratch"/>.</summary>
    public ReadOnlySpan<byte> RowBytesOf(int row, Span<byte> scratch)
    {
        if (Layout == WeightLayout.Rows)
            return Row(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)row, (uint)Rows, nameof(row));
        Q8Octets.CopyRow(Data, RowBytes, row, Cols / Q8_0Block.Size, scratch[..(int)RowBytes]);
        return scratch[..(int)RowBytes];
    }

    private void RequireLayout(WeightLayout layout)
    {
        if (Layout != layout)
            throw new InvalidOperationException($"'{Name}' is stored as {Layout}, not {layout}; this path must read it through its layout.");
    }

    /// <summary>A view of rows [start, start + count), used to split a fused tensor.</summary>
    public WeightMatrix Slice(int start, int count) => new(this, start, count);

    private WeightMatrix(WeightMatrix whole, int start, int count)
    {
        if (start < 0 || count < 0 || start + count > whole.Rows)
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start + count}) are outside '{whole.Name}' ({whole.Rows} rows)");
        Name = whole.Name;
        Type = whole.Type;
        Cols = whole.Cols;
        Rows = count;
        RowBytes = whole.RowBytes;
        // Octets stay octets when the slice starts and ends on whole octets (the bytes of rows [8k, 8k + 8) are octet k).
        if (whole.Layout == WeightLayout.Octets && (start % Q8Octets.Rows != 0 || count % Q8Octets.Rows != 0))
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) of '{whole.Name}' split its octets of 8 rows; bind it with that split so it keeps the file's layout");
        Data = whole.Data + start * whole.RowBytes;
        Finite = whole.Finite;
        Layout = whole.Layout;
    }

    /// <summary>Writes row <paramref name="row"/> as floats (embedding lookups).</summary>
    public void DequantizeRow(int row, Span<float> destination)
    {
        if (Layout == WeightLayout.Rows)
            TensorOps.DequantizeRow(Type, Row(row), destination[..Cols]);
        else
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)row, (uint)Rows, nameof(row));
            Q8Octets.DequantizeRow(Data, RowBytes, row, Cols / Q8_0Block.Size, destination[..Cols]);
        }
    }
}

/// <summary>How a <see cref="WeightMatrix"/> stores its rows.</summary>
internal enum WeightLayout
{
    /// <summary>Row after row, as in the file.</summary>
    Rows,
    /// <summary>Q8_0 repacked at load: each group of 8 rows interleaved block by block with the rows as vector lanes (<see cref="Q8Octets"/>).</summary>
    Octets,
}

/// <summary>The tensors of one transformer block; optional ones are null when the architecture has none.</summary>
internal sealed class LayerWeights
{
    public required float[] AttnNorm { get; init; }
    public WeightMatrix Q { get; init; }
    public WeightMatrix K { get; init; }
    public WeightMatrix V { get; init; }
    /// <summary>Fused [q; k; v] projection (phi3); when set, Q/K/V are unused.</summary>
    public WeightMatrix? Qkv { get; init; }
    public float[]? QBias { get; init; }
    public float[]? KBias { get; init; }
    public float[]? VBias { get; init; }
    /// <summary>Per-head RMSNorm of queries and keys (qwen3, gemma3).</summary>
    public float[]? QNorm { get; init; }
    public float[]? KNorm { get; init; }
    public required WeightMatrix Output { get; init; }
    public float[]? PostAttnNorm { get; init; }
    public required float[] FfnNorm { get; init; }
    public WeightMatrix Gate { get; init; }
    public required WeightMatrix Up { get; init; }
    /// <summary>True when <see cref="Up"/> holds [gate; up] (phi3).</summary>
    public bool FusedGateUp { get; init; }
    public required WeightMatrix Down { get; init; }
    public float[]? PostFfnNorm { get; init; }
}

/// <summary>All weights of a model: embeddings, blocks, final norm and the output projection (the embedding when tied).</summary>
internal sealed class ModelWeights : IDisposable
{
    public required WeightMatrix TokenEmbedding { get; init; }
    public required LayerWeights[] Layers { get; init; }
    public required float[] OutputNorm { get; init; }
    public required WeightMatrix Output { get; init; }
    /// <summary>Llama 3 per-pair frequency divisors from rope_freqs.weight, when the file has them.</summary>
    public float[]? RopeFreqFactors { get; init; }

    /// <summary>Bytes of weight data the model reads.</summary>
    public long Bytes { get; init; }

    /// <summary>The natively allocated copies of the matrices, repacked or copied as in the file (null when the weights are read from the
    /// mapping); freed by <see cref="Dispose"/>. Set from <see cref="WeightBinder.TakeStore"/>, so the binder no longer frees it.</summary>
    public RepackedStore? Repacked { get; init; }

    /// <summary>Bytes of weights held in native memory (repacked or copied) instead of the file's mapping.</summary>
    public long RepackedBytes => Repacked?.Bytes ?? 0;

    /// <summary>Frees the native copies of the matrices (repacked or copied unchanged); the matrices must not be used afterwards.</summary>
    public void Dispose() => Repacked?.Dispose();
}

/// <summary>Native buffers holding the weights (64-byte aligned, in 2 MiB-aligned slabs that ask for transparent huge pages), owned by the model's
/// <see cref="ModelWeights"/> and freed by its Dispose. There is no finalizer: the matrices hold bare pointers into these buffers, so a
/// store dropped while they are still read must not be freed under them; a store dropped without Dispose leaks instead.</summary>
internal sealed unsafe class RepackedStore : IDisposable
{
    private readonly List<nint> _buffers = [];
    private bool _disposed;

    // Matrices share slabs, so that small ones (a 576 x 576 F16 matrix is 648 KiB) sit in huge pages too. The first slab is the
    // capacity the binder expects to need (all the file's matrices), the next ones this size; an untouched tail is address space only,
    // while the partly used last huge page of each slab is resident.
    private const long Slab = 32 * NativePages.HugePage;

    private readonly long _firstSlab;
    private byte* _slab;
    private long _slabSize;
    private long _slabUsed;

    /// <param name="capacity">Bytes the caller expects to allocate in all (0: unknown).</param>
    public RepackedStore(long capacity = 0) => _firstSlab = Math.Max(capacity, Slab);

    /// <summary>Bytes allocated.</summary>
    public long Bytes { get; private set; }

    private static long s_liveBytes;

    /// <summary>Bytes allocated by all stores of the process not yet disposed (tests check that a failed load frees what it copied).</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary><paramref name="bytes"/> bytes, 64-byte aligned, in memory that asks for transparent huge pages.</summary>
    public byte* Allocate(long bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Bytes += bytes;
        Interlocked.Add(ref s_liveBytes, bytes);
        if (_slabUsed + bytes > _slabSize)
        {
            if (_slab != null && bytes >= Slab)
                return AllocateHuge(bytes);
            _slabSize = _slab == null ? Math.Max(_firstSlab, bytes) : Slab;
            _slab = AllocateHuge(_slabSize);
            _slabUsed = 0;
        }
        var p = _slab + _slabUsed;
        _slabUsed = (_slabUsed + bytes + 63) & ~63L;
        return p;
    }

    // Buffers start on a huge page and ask for transparent huge pages: fewer page faults while copying and fewer TLB misses while
    // streaming the weights.
    private byte* AllocateHuge(long bytes)
    {
        bytes = (bytes + NativePages.HugePage - 1) & ~(NativePages.HugePage - 1);
        var p = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, (nuint)NativePages.HugePage);
        NativePages.AdviseHugePages(p, bytes);
        _buffers.Add((nint)p);
        return p;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var p in _buffers)
            System.Runtime.InteropServices.NativeMemory.AlignedFree((void*)p);
        _buffers.Clear();
        Interlocked.Add(ref s_liveBytes, -Bytes);
        Bytes = 0;
    }
}

/// <summary>Binds tensors by name, checking shapes, so architecture files stay declarative. With <paramref name="repack"/> the weight
/// matrices are held in native memory backed by transparent huge pages (<see cref="RepackedStore"/>) instead of the file's mapping:
/// each Q8_0 matrix whose rows split into octets is rewritten into <see cref="WeightLayout.Octets"/>, and, where the file's pages can be
/// released (a memory-mapped file on Linux), every other matrix is copied with its bytes unchanged. The file's pages are released
/// chunk by chunk right after each chunk is copied (<see cref="GgufFile.ReleasePages"/>), so the model holds one copy of its weights.
/// Without <paramref name="repack"/> every matrix reads the mapping in place.
/// Disposing the binder frees its store unless <see cref="TakeStore"/> handed it to a <see cref="ModelWeights"/> (binding that throws
/// partway, or matrices bound without building a model).</summary>
internal sealed unsafe class WeightBinder(GgufFile file, bool repack = true) : IDisposable
{
    // Octets repacked per work item: 64 KiB to 2 MiB of weights, so the parallel repack balances and each item's file pages are
    // released right after it (the working set never holds both copies of more than a few items).
    private const int OctetsPerChunk = 64;

    public GgufFile File => file;
    public long Bytes { get; private set; }

    /// <summary>Where the repacked and copied matrices live (null until one is).</summary>
    public RepackedStore? Repacked { get; private set; }

    // The store, made on first use with room for all the file's matrices.
    private RepackedStore Store => Repacked ??= new RepackedStore(MatrixBytes(file));

    /// <summary>Hands the store over to the caller, which frees it from now on (a <see cref="ModelWeights"/>); the binder forgets it.</summary>
    public RepackedStore? TakeStore()
    {
        var store = Repacked;
        Repacked = null;
        return store;
    }

    /// <summary>The matrix <paramref name="name"/> of <paramref name="rows"/> rows of <paramref name="cols"/> weights;
    /// <paramref name="splitAt"/>: rows at which the caller will slice it (a fused tensor), where a split that is not a multiple of 8
    /// keeps the file's layout. Each call makes its own copy: bind a tensor once (a tied output is the embedding's matrix, not a second
    /// binding).</summary>
    public WeightMatrix Matrix(string name, int cols, int rows, int splitAt = 0)
    {
        var t = file.GetTensor(name);
        if (t.RowLength != cols || t.RowCount != rows)
            throw new GgufFormatException(file.Name, $"tensor '{name}' has shape {t.ShapeText}, expected [{cols}, {rows}]");
        Bytes += t.ByteSize;
        return repack && splitAt % Q8Octets.Rows == 0 && Q8Octets.Supports(t.Type, rows, cols)
            ? Repack(t)
            : repack && file.ReleasesPages && TensorOps.IsSupported(t.Type) ? Copy(t) : new WeightMatrix(file, t);
    }

    private WeightMatrix Repack(GgufTensorInfo t)
    {
        var source = file.TensorPointer(t);
        var rowBytes = t.RowBytes;
        var octets = checked((int)(t.RowCount / Q8Octets.Rows));
        var blocks = checked((int)(t.RowLength / Q8_0Block.Size));
        var target = Store.Allocate(t.ByteSize);
        var chunks = (octets + OctetsPerChunk - 1) / OctetsPerChunk;
        // The shared thread pool, not ModelLoadOptions.Threads: this runs once at load, before the model's worker pool exists.
        Parallel.For(0, chunks, c =>
        {
            var first = c * OctetsPerChunk;
            var count = Math.Min(OctetsPerChunk, octets - first);
            Q8Octets.Repack(source, target, rowBytes, blocks, first, count);
            file.ReleasePages(source + first * Q8Octets.Rows * rowBytes, count * Q8Octets.Rows * rowBytes);
        });
        // The pages straddling two chunks, which neither chunk could release alone.
        file.ReleasePages(source, t.ByteSize);
        return new WeightMatrix(file, t, target, WeightLayout.Octets);
    }

    // Bytes copied per work item: one huge page, so the copy balances over the threads and the working set never holds both copies of
    // more than a few items.
    private const long CopyChunk = NativePages.HugePage;

    /// <summary>The tensor's bytes copied unchanged into huge-page native memory, the file's pages released chunk by chunk. Streaming
    /// the weights from 2 MiB pages instead of the mapping's 4 KiB pages takes fewer TLB misses: 135M F16 decode +10-15% per CPU-second
    /// (bench/ENGINE.md, "r5-huge").</summary>
    private WeightMatrix Copy(GgufTensorInfo t)
    {
        var source = file.TensorPointer(t);
        var bytes = t.ByteSize;
        var target = Store.Allocate(bytes);
        var chunks = (int)((bytes + CopyChunk - 1) / CopyChunk);
        // The shared thread pool, as in Repack: the model's worker pool does not exist yet.
        Parallel.For(0, chunks, c =>
        {
            var first = c * CopyChunk;
            var count = Math.Min(CopyChunk, bytes - first);
            Buffer.MemoryCopy(source + first, target + first, count, count);
            file.ReleasePages(source + first, count);
        });
        file.ReleasePages(source, bytes);
        return new WeightMatrix(file, t, target, WeightLayout.Rows);
    }

    /// <summary>The bytes of the file's matrices a repacking binder may hold in native memory (each rounded to 64 bytes): every tensor of
    /// two or more dimensions where the file's pages can be released, only the Q8_0 matrices that split into octets where they cannot
    /// (the rest stays on the mapping there). An upper bound: a fused tensor split off its octets keeps the file's layout. The store
    /// reserves them as one region, so the weights pack back to back and only its last huge page is partly used.</summary>
    public static long MatrixBytes(GgufFile file) => file.Tensors
        .Where(t => t.Dimensions.Count > 1 && (file.ReleasesPages || Repackable(t)))
        .Sum(t => (t.ByteSize + 63) & ~63L);

    private static bool Repackable(GgufTensorInfo t) =>
        t.RowCount <= int.MaxValue && t.RowLength <= int.MaxValue && Q8Octets.Supports(t.Type, (int)t.RowCount, (int)t.RowLength);

    public WeightMatrix? OptionalMatrix(string name, int cols, int rows) =>
        file.TryGetTensor(name, out _) ? Matrix(name, cols, rows) : null;

    public float[] Vector(string name, int length)
    {
        var t = file.GetTensor(name);
        if (t.ElementCount != length)
            throw new GgufFormatException(file.Name, $"tensor '{name}' has shape {t.ShapeText}, expected {length} elements");
        if (!TensorOps.IsSupported(t.Type))
            throw new GgufFormatException(file.Name, $"tensor '{name}' has unsupported type {GgmlTypes.Name(t.Type)}");
        Bytes += t.ByteSize;
        var result = new float[length];
        TensorOps.DequantizeRow(t.Type, file.TensorData(t), result);
        return result;
    }

    public float[]? OptionalVector(string name, int length) =>
        file.TryGetTensor(name, out _) ? Vector(name, length) : null;

    public void Dispose() => Repacked?.Dispose();
}
