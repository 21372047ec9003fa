using Basalt.Engine.Threading;

namespace Basalt.Engine.Tests.Threading;

public sealed class WorkerPoolTests
{
    private sealed class MarkJob(int[] marks) : IRangeJob
    {
        public void Execute(int start, int end)
        {
            for (var i = start; i < end; i++)
                Interlocked.Increment(ref marks[i]);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1001)]
    [InlineData(4, 7)]
    public void Run_ManyDispatches_CoversEveryIndexExactlyOnce(int threads, int count)
    {
        using var pool = new WorkerPool(threads);
        var marks = new int[count];
        var job = new MarkJob(marks);
        for (var round = 1; round <= 200; round++)
        {
            pool.Run(job, count);
            Assert.All(marks, m => Assert.Equal(round, m));
        }
    }

    private sealed class ChunkJob(int[] marks, int group) : IRangeJob
    {
        public volatile bool Misaligned;

        public void Execute(int start, int end)
        {
            if (start % group != 0 || (end % group != 0 && end != marks.Length))
                Misaligned = true;
            for (var i = start; i < end; i++)
                Interlocked.Increment(ref marks[i]);
        }
    }

    [Theory]
    [InlineData(2, 1536, 256)]
    [InlineData(2, 49152, 16)]
    [InlineData(3, 1000, 32)]
    public void Run_MinChunk_ChunksNeverSplitAGroup(int threads, int count, int group)
    {
        using var pool = new WorkerPool(threads);
        var marks = new int[count];
        var job = new ChunkJob(marks, group);
        for (var round = 1; round <= 100; round++)
            pool.Run(job, count, group);
        Assert.False(job.Misaligned);
        Assert.All(marks, m => Assert.Equal(100, m));
    }

    [Fact]
    public void Run_AfterWorkersFellAsleep_StillCoversEveryIndex()
    {
        using var pool = new WorkerPool(2);
        var marks = new int[257];
        var job = new MarkJob(marks);
        for (var round = 1; round <= 10; round++)
        {
            // Longer than the workers spin, so each dispatch has to wake a sleeping worker.
            Thread.Sleep(5);
            pool.Run(job, marks.Length);
            Assert.All(marks, m => Assert.Equal(round, m));
        }
    }

    [Fact]
    public void Dispose_WithSleepingWorkers_ReturnsAndRejectsFurtherRuns()
    {
        var pool = new WorkerPool(3);
        pool.Run(new MarkJob(new int[64]), 64);
        Thread.Sleep(5);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(new MarkJob(new int[4]), 4));
    }
}
