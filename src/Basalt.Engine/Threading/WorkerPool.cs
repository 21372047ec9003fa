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

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    // Parameters of the two most recent generations, indexed by generation parity: a worker reading them for generation g after the
    // caller moved on can only see g + 2's values once g + 1 was published, and then its claim on g fails.
    private readonly IRangeJob?[] _job = new IRangeJob?[2];
    private readonly int[] _count = new int[2];
    private readonly int[] _minChunk = new int[2];
    private long _claim;
    private int _done;
    private volatile bool _disposed;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
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
    public void Run(IRangeJob job, int count, int minChunk = 1)
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
        _done = 0;
        // Publishing the generation is a full fence: the parameters above are visible to whoever sees it, and the sleeping flags read
        // below are fresh (a worker sets its flag, then re-reads the generation, with the same kind of fence).
        Interlocked.Exchange(ref _claim, (long)generation << 32);
        for (var i = 0; i < _sleeping.Length; i++)
            if (Volatile.Read(ref _sleeping[i]) != 0 && Interlocked.Exchange(ref _sleeping[i], 0) != 0)
                _wake[i].Release();
        RunChunks(generation);
        if (Volatile.Read(ref _done) != count)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) != count)
                spin.SpinOnce(sleep1Threshold: -1);
        }
        _job[slot] = null;
    }

    /// <summary>Claims and runs chunks of <paramref name="generation"/> until none is left.</summary>
    private void RunChunks(int generation)
    {
        var slot = generation & 1;
        while (true)
        {
            var claim = Volatile.Read(ref _claim);
            if ((int)(claim >> 32) != generation)
                return;
            var start = (int)claim;
            // Read after the claim word: if the caller has since reused this slot, the claim below fails.
            var count = _count[slot];
            var minChunk = _minChunk[slot];
            var job = _job[slot];
            var remaining = count - start;
            if (remaining <= 0 || job is null)
                return;
            var size = remaining / (ShrinkFactor * Threads);
            size = size <= minChunk ? minChunk : size - size % minChunk;
            var end = size >= remaining ? count : start + size;
            if (Interlocked.CompareExchange(ref _claim, ((long)generation << 32) | (uint)end, claim) != claim)
                continue;
            job.Execute(start, end);
            Interlocked.Add(ref _done, end - start);
        }
    }

    private void WorkerLoop(int index)
    {
        var seen = 0;
        while (true)
        {
            var generation = WaitForGeneration(index, seen);
            if (_disposed)
                return;
            seen = generation;
            RunChunks(generation);
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
