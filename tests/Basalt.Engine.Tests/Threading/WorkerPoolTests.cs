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
}
