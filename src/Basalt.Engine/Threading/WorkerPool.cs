using System.Diagnostics;

namespace Basalt.Engine.Threading;

/// <summary>Work a <see cref="WorkerPool"/> splits by index range; implementations are allocated once and reused per dispatch.</summary>
internal interface IRangeJob
{
    /// <summary>Processes items [start, end).</summary>
    void Execute(int start, int end);
}

/// <summary>A persistent pool: threads are created once; each dispatch hands out chunks of a range to the workers and the calling thread,
/// and returns when all chunks are done. Dispatching allocates nothing and makes no system call while the workers are spinning.</summary>
/// <remarks>
/// A dispatch is published as a new generation in one 64-bit claim word (generation in the high half, next unclaimed item in the low
/// half); every thread, the caller included, claims chunks from it with a compare-and-swap, so a worker still busy with (or preempted in)
/// an old generation can never claim items of a newer one. Chunks shrink as the range drains (a fraction of what remains, never below
/// the minimum), so both threads finish within a small chunk of each other. The caller returns as soon as every item is done: it never
/// waits for a worker that did not get to run (on a loaded machine the caller simply does the whole range itself).
/// Between dispatches workers spin on the generation, backing off, then sleep on a semaphore the caller releases only for sleepers.
/// A share dispatch (<see cref="RunShares"/>) instead gives each thread one contiguous share of the range, cut into pieces of
/// decreasing size (1/2, 1/4, 1/8, 1/8 of the share): a thread claims its own pieces front to back, so it reads its share as one
/// stream, and a thread with nothing left takes the others' unclaimed pieces from the back, smallest first. The claim word's low half is
/// then the set of claimed pieces, so the generation check of a claim is the same single compare-and-swap.
/// </remarks>
internal sealed class WorkerPool : IDisposable
{
    // How long a worker spins for the next dispatch before it sleeps: a decode step dispatches every few to few tens of microseconds,
    // and waking a sleeping thread costs a system call on the caller's side and 10-50 us of latency on the worker's.
    private static readonly long SpinTicks = Stopwatch.Frequency / 10000; // 100 us
    // A chunk is at most this fraction of the items still unclaimed per thread: large first chunks (few claims, long sequential reads),
    // small last ones (the threads finish together).
    private const int ShrinkFactor = 2;
    // Pause instructions between two looks at the generation once the backoff has grown.
    private const int MaxPauses = 16;
    // Most pieces per share: halving pieces (1/2, 1/4, 1/8, 1/8) leave the last claim an eighth of a share.
    private const int MaxPieces = 4;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    // Parameters of the two most recent generations, indexed by generation parity: a worker reading them for generation g after the
    // caller moved on can only see g + 2's values once g + 1 was published, and then its claim on g fails.
    private readonly IRangeJob?[] _job = new IRangeJob?[2];
    private readonly int[] _count = new int[2];
    private readonly int[] _minChunk = new int[2];
    private readonly bool[] _shared = new bool[2];
    // Pieces per thread's share in a share dispatch: the claim word's 32 low bits hold one bit per piece of every share.
    private readonly int _pieces;
    private long _claim;
    private int _done;
    private volatile bool _disposed;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        _pieces = Math.Min(MaxPieces, 32 / threads);
        _threads = new Thread[threads - 1];
        _wake = new SemaphoreSlim[threads - 1];
        _sleeping = new int[threads - 1];
        for (var i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            var index = i;
            _threads[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"basalt-engine-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads taking part in a dispatch, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Runs <paramref name="job"/> over [0, count) split in chunks that are multiples of <paramref name="minChunk"/> items
    /// (all but the last, which ends at <paramref name="count"/>), so a chunk boundary never splits a group of that many items;
    /// returns when every item is done. Not reentrant: one dispatch at a time.</summary>
    public void Run(IRangeJob job, int count, int minChunk = 1) => Dispatch(job, count, minChunk, shared: false);

    /// <summary>Runs <paramref name="job"/> like <see cref="Run"/>, but each thread first processes one contiguous share of the range
    /// (in a few claims of decreasing size), then helps with the others' unclaimed pieces: for jobs that stream their items' data from
    /// memory (decoding's weight rows), where a long sequential read per thread is worth more than finely balanced chunks.</summary>
    public void RunShares(IRangeJob job, int count, int minChunk = 1) => Dispatch(job, count, minChunk, shared: _pieces > 0);

    private void Dispatch(IRangeJob job, int count, int minChunk, bool shared)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(minChunk, 1);
        if (count <= 0)
            return;
        if (_threads.Length == 0 || count <= minChunk)
        {
            job.Execute(0, count);
            return;
        }
        var generation = (int)(Volatile.Read(ref _claim) >> 32) + 1;
        var slot = generation & 1;
        _job[slot] = job;
        _count[slot] = count;
        _minChunk[slot] = minChunk;
        _shared[slot] = shared;
        _done = 0;
        // Publishing the generation is a full fence: the parameters above are visible to whoever sees it, and the sleeping flags read
        // below are fresh (a worker sets its flag, then re-reads the generation, with the same kind of fence).
        Interlocked.Exchange(ref _claim, (long)generation << 32);
        for (var i = 0; i < _sleeping.Length; i++)
            if (Volatile.Read(ref _sleeping[i]) != 0 && Interlocked.Exchange(ref _sleeping[i], 0) != 0)
                _wake[i].Release();
        RunChunks(generation, 0);
        if (Volatile.Read(ref _done) != count)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) != count)
                spin.SpinOnce(sleep1Threshold: -1);
        }
        _job[slot] = null;
    }

    /// <summary>Claims and runs chunks of <paramref name="generation"/> until none is left; <paramref name="self"/> is the thread's
    /// index (0 = the caller), whose share it takes first in a share dispatch.</summary>
    private void RunChunks(int generation, int self)
    {
        var slot = generation & 1;
        while (true)
        {
            var claim = Volatile.Read(ref _claim);
            if ((int)(claim >> 32) != generation)
                return;
            // Read after the claim word: if the caller has since reused this slot, the claim below fails.
            var count = _count[slot];
            var minChunk = _minChunk[slot];
            var job = _job[slot];
            if (job is null)
                return;
            int start, end;
            long next;
            if (_shared[slot])
            {
                var piece = NextPiece((uint)claim, self);
                if (piece < 0)
                    return;
                (start, end) = PieceRange(piece, count, minChunk);
                next = claim | (1L << piece);
            }
            else
            {
                start = (int)claim;
                var remaining = count - start;
                if (remaining <= 0)
                    return;
                var size = remaining / (ShrinkFactor * Threads);
                size = size <= minChunk ? minChunk : size - size % minChunk;
                end = size >= remaining ? count : start + size;
                next = ((long)generation << 32) | (uint)end;
            }
            if (Interlocked.CompareExchange(ref _claim, next, claim) != claim)
                continue;
            if (start < end)
            {
                job.Execute(start, end);
                Interlocked.Add(ref _done, end - start);
            }
        }
    }

    /// <summary>The piece a thread claims next in a share dispatch, given the set of claimed pieces: the first unclaimed piece of its own
    /// share, else the last unclaimed piece of the next share that has one; -1 when every piece is claimed.</summary>
    private int NextPiece(uint claimed, int self)
    {
        var pieces = _pieces;
        var own = self * pieces;
        for (var k = own; k < own + pieces; k++)
            if ((claimed & (1u << k)) == 0)
                return k;
        for (var t = 1; t < Threads; t++)
        {
            var first = (self + t) % Threads * pieces;
            for (var k = first + pieces - 1; k >= first; k--)
                if ((claimed & (1u << k)) == 0)
                    return k;
        }
        return -1;
    }

    /// <summary>Items [start, end) of a piece (possibly empty): share s holds groups [groups s / T, groups (s + 1) / T) of
    /// <paramref name="minChunk"/> items, and its pieces end at 1/2, 3/4, 7/8 ... of it, the last at its end.</summary>
    internal static (int Start, int End) PieceRange(int piece, int count, int minChunk, int threads, int pieces)
    {
        var groups = (count + minChunk - 1) / minChunk;
        int share = piece / pieces, k = piece % pieces;
        long shareStart = (long)groups * share / threads, shareEnd = (long)groups * (share + 1) / threads;
        var length = shareEnd - shareStart;
        var from = k == 0 ? 0 : length - (length >> k);
        var to = k == pieces - 1 ? length : length - (length >> (k + 1));
        return ((int)Math.Min(count, (shareStart + from) * minChunk), (int)Math.Min(count, (shareStart + to) * minChunk));
    }

    private (int Start, int End) PieceRange(int piece, int count, int minChunk) => PieceRange(piece, count, minChunk, Threads, _pieces);

    private void WorkerLoop(int index)
    {
        var seen = 0;
        while (true)
        {
            var generation = WaitForGeneration(index, seen);
            if (_disposed)
                return;
            seen = generation;
            RunChunks(generation, index + 1);
        }
    }

    /// <summary>Spins, then sleeps, until a generation other than <paramref name="seen"/> is published; returns it.</summary>
    private int WaitForGeneration(int index, int seen)
    {
        var spinStart = Stopwatch.GetTimestamp();
        var spins = 0;
        while (true)
        {
            var generation = (int)(Volatile.Read(ref _claim) >> 32);
            if (generation != seen || _disposed)
                return generation;
            // Back off to a few pause instructions per look: the caller publishes the next dispatch within a microsecond or so of
            // the last, and a longer pause would leave the worker idle while the caller starts it alone.
            Thread.SpinWait(spins < 8 ? 1 << (spins >> 1) : MaxPauses);
            if (++spins % 32 != 0)
                continue;
            if (Stopwatch.GetTimestamp() - spinStart < SpinTicks)
            {
                // Every few microseconds give the core to another runnable thread, if there is one (a no-op on an idle core): on a
                // loaded machine a worker that only pauses burns the time slice its process needs for the dispatches themselves.
                Thread.Yield();
                continue;
            }
            // Sleep: raise the flag, then look again, so either this thread sees the new generation or the caller sees the flag.
            Interlocked.Exchange(ref _sleeping[index], 1);
            generation = (int)(Volatile.Read(ref _claim) >> 32);
            if ((generation != seen || _disposed) && Interlocked.Exchange(ref _sleeping[index], 0) != 0)
                return generation;
            // Either still nothing to do, or the caller cleared the flag and releases (or released) the semaphore: take that release.
            _wake[index].Wait();
            spinStart = Stopwatch.GetTimestamp();
            spins = 0;
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        // A new generation with nothing to claim makes spinning workers look at the flag; sleeping ones are released.
        var generation = (int)(Volatile.Read(ref _claim) >> 32) + 1;
        Interlocked.Exchange(ref _claim, (long)generation << 32);
        for (var i = 0; i < _sleeping.Length; i++)
            if (Interlocked.Exchange(ref _sleeping[i], 0) != 0)
                _wake[i].Release();
        foreach (var t in _threads)
            t.Join();
        foreach (var w in _wake)
            w.Dispose();
    }
}
