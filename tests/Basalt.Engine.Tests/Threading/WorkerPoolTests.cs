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

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 576, 16)]
    [InlineData(2, 577, 16)]
    [InlineData(2, 49152, 16)]
    [InlineData(3, 1001, 1)]
    [InlineData(3, 35, 16)]
    [InlineData(4, 7, 1)]
    [InlineData(5, 1000, 32)]
    public void RunShares_ManyDispatches_CoversEveryIndexExactlyOnceInWholeGroups(int threads, int count, int group)
    {
        using var pool = new WorkerPool(threads);
        var marks = new int[count];
        var job = new ChunkJob(marks, group);
        for (var round = 1; round <= 200; round++)
        {
            pool.RunShares(job, count, group);
            Assert.All(marks, m => Assert.Equal(round, m));
        }
        Assert.False(job.Misaligned);
    }

    [Fact]
    public void RunShares_MixedWithGuidedDispatches_CoversEveryIndexExactlyOnce()
    {
        using var pool = new WorkerPool(3);
        var marks = new int[301];
        var job = new MarkJob(marks);
        for (var round = 1; round <= 300; round++)
        {
            if (round % 3 == 0)
                pool.Run(job, marks.Length, 4);
            else
                pool.RunShares(job, marks.Length, round % 2 == 0 ? 16 : 1);
            Assert.All(marks, m => Assert.Equal(round, m));
        }
    }

    [Theory]
    [InlineData(2, 4, 576, 16)]
    [InlineData(2, 4, 49152, 16)]
    [InlineData(3, 4, 1001, 1)]
    [InlineData(4, 4, 35, 16)]
    [InlineData(8, 4, 100, 1)]
    [InlineData(16, 2, 1536, 16)]
    [InlineData(32, 1, 50, 1)]
    public void PieceRange_EveryPieceOfEveryShare_TilesTheRangeInOrderWithHalvingPieces(int threads, int pieces, int count, int group)
    {
        var next = 0;
        for (var piece = 0; piece < threads * pieces; piece++)
        {
            var (start, end) = WorkerPool.PieceRange(piece, count, group, threads, pieces);
            Assert.Equal(next, start);
            Assert.True(end >= start);
            Assert.True(end % group == 0 || end == count, $"piece {piece} ends at {end}, inside a group of {group}");
            next = end;
        }
        Assert.Equal(count, next);
        // Each thread's share is contiguous and its first piece is at least half of it: one long read per thread.
        var (firstStart, firstEnd) = WorkerPool.PieceRange(0, count, group, threads, pieces);
        var (_, shareEnd) = WorkerPool.PieceRange(pieces - 1, count, group, threads, pieces);
        Assert.True(2 * (firstEnd - firstStart) >= shareEnd - firstStart);
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
