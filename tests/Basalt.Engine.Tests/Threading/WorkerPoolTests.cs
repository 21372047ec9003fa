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
    [InlineData(2, 70001, 1)]
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

    private sealed class SlowWorkerJob(int[] marks) : IRangeJob
    {
        public void Execute(int start, int end)
        {
            // The pool's workers are slow (as if descheduled): the caller has to take their pieces from the back.
            if (Thread.CurrentThread.Name?.StartsWith("basalt-engine", StringComparison.Ordinal) == true)
                Thread.Sleep(1);
            for (var i = start; i < end; i++)
                Interlocked.Increment(ref marks[i]);
        }
    }

    [Fact]
    public void RunShares_SlowWorkers_CallerTakesTheirPiecesAndEveryIndexIsDoneOnce()
    {
        using var pool = new WorkerPool(3);
        var marks = new int[577];
        var job = new SlowWorkerJob(marks);
        for (var round = 1; round <= 20; round++)
        {
            pool.RunShares(job, marks.Length, 16);
            Assert.All(marks, m => Assert.Equal(round, m));
        }
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
    [InlineData(2, 3, 576, 16)]
    [InlineData(2, 3, 49152, 16)]
    [InlineData(2, 3, 32, 16)]
    [InlineData(3, 3, 1001, 1)]
    [InlineData(4, 3, 35, 16)]
    [InlineData(8, 2, 100, 1)]
    [InlineData(16, 1, 1536, 16)]
    public void ShareLayout_EveryPieceThenTheTail_TilesTheRangeInOrder(int threads, int pieces, int count, int group)
    {
        var layout = WorkerPool.ShareLayout.Of(count, group, threads, pieces);
        var next = 0;
        for (var share = 0; share < threads; share++)
            for (var k = 0; k < pieces; k++)
            {
                var (start, end) = layout.Piece(share, k, count, group);
                Assert.Equal(next, start);
                Assert.True(end >= start);
                Assert.True(end % group == 0, $"share {share} piece {k} ends at {end}, inside a group of {group}");
                next = end;
            }
        // The tail, claimed from a cursor counting its groups: as one claim from 0 to its end.
        var (tailStart, tailEnd) = layout.Claimed(0, (uint)layout.Tail, count, group);
        Assert.Equal(next, tailStart);
        Assert.Equal(count, tailEnd);
        Assert.InRange(tailEnd - tailStart, 1, Math.Max(threads * group, count / 8 + group));
        // Each thread's share is contiguous and its first piece is at least half of it: one long read per thread.
        var (firstStart, firstEnd) = layout.Piece(0, 0, count, group);
        var (_, shareEnd) = layout.Piece(0, pieces - 1, count, group);
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
