using System.Diagnostics;
using Basalt.Server.Operations;

namespace Basalt.Bench;

/// <summary>Metrics recording throughput: what every request adds (one RecordRequest and one RecordUsage), from 1 thread and
/// from several at once on the same labels, the worst case for contention. Prints requests recorded per second.</summary>
internal static class MetricsBench
{
    public static Task<int> RunAsync(string[] args)
    {
        var seconds = Options.Int(args, "--seconds", 2);
        var threadCounts = Options.IntList(args, "--threads", [1, Environment.ProcessorCount]);
        Console.WriteLine($"metrics: {seconds} s per run, same model and key labels on every thread");
        Console.WriteLine($"{"threads",8} {"requests/s",14} {"ns/request/thread",18}");
        foreach (var threads in threadCounts)
        {
            var metrics = new ServerMetrics();
            var counts = new long[threads];
            var stop = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
            var workers = new Thread[threads];
            for (var t = 0; t < threads; t++)
            {
                var index = t;
                workers[t] = new Thread(() =>
                {
                    long n = 0;
                    while ((n & 1023) != 0 || Stopwatch.GetTimestamp() < stop)
                    {
                        metrics.RecordRequest("bedrock", 200, TimeSpan.FromMilliseconds(3));
                        metrics.RecordUsage("model", "key", 120, 40, 0, 0, 0.00012m);
                        n++;
                    }
                    counts[index] = n;
                });
                workers[t].Start();
            }
            foreach (var w in workers)
                w.Join();
            var total = counts.Sum();
            var perSecond = total / (double)seconds;
            Console.WriteLine($"{threads,8} {perSecond,14:N0} {1e9 * threads / perSecond,18:N0}");
        }
        return Task.FromResult(0);
    }
}
