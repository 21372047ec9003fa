namespace Basalt.Engine.Threading;

/// <summary>Work a <see cref="WorkerPool"/> splits by index range; implementations are allocated once and reused per dispatch.</summary>
internal interface IRangeJob
{
    /// <summary>Processes items [start, end).</summary>
    void Execute(int start, int end);
}

/// <summary>A persistent pool: threads are created once; each dispatch hands out chunks of a range to the workers and the calling thread,
/// and returns when all chunks are done. Dispatching allocates nothing.</summary>
internal sealed class WorkerPool : IDisposable
{
    // Spin before blocking: dispatches come every few microseconds during a forward pass, and waking a blocked thread costs more.
    private const int WakeSpinCount = 2000;
    // Chunks per thread, so a thread that starts late (shared CPU) does not hold the whole dispatch back.
    private const int ChunksPerThread = 4;

    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _wake;
    private IRangeJob? _job;
    private int _count;
    private int _chunkSize;
    private int _nextChunk;
    private int _pending;
    private volatile bool _disposed;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        _threads = new Thread[threads - 1];
        _wake = new ManualResetEventSlim[threads - 1];
        for (var i = 0; i < _threads.Length; i++)
        {
            _wake[i] = new ManualResetEventSlim(false, WakeSpinCount);
            var index = i;
            _threads[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"basalt-engine-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads taking part in a dispatch, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Runs <paramref name="job"/> over [0, count) split in chunks of at least <paramref name="minChunk"/> items; returns when done.</summary>
    public void Run(IRangeJob job, int count, int minChunk = 1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0)
            return;
        var chunk = Math.Max(minChunk, (count + Threads * ChunksPerThread - 1) / (Threads * ChunksPerThread));
        if (_threads.Length == 0 || chunk >= count)
        {
            job.Execute(0, count);
            return;
        }
        _job = job;
        _count = count;
        _chunkSize = chunk;
        _nextChunk = 0;
        Volatile.Write(ref _pending, _threads.Length);
        for (var i = 0; i < _wake.Length; i++)
            _wake[i].Set();
        RunChunks();
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) != 0)
            spin.SpinOnce(sleep1Threshold: -1);
        _job = null;
    }

    private void RunChunks()
    {
        var job = _job!;
        while (true)
        {
            var start = Interlocked.Add(ref _nextChunk, _chunkSize) - _chunkSize;
            if (start >= _count)
                return;
            job.Execute(start, Math.Min(start + _chunkSize, _count));
        }
    }

    private void WorkerLoop(int index)
    {
        var wake = _wake[index];
        while (true)
        {
            wake.Wait();
            wake.Reset();
            if (_disposed)
                return;
            RunChunks();
            Interlocked.Decrement(ref _pending);
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var w in _wake)
            w.Set();
        foreach (var t in _threads)
            t.Join();
        foreach (var w in _wake)
            w.Dispose();
    }
}
