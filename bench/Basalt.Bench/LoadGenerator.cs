using System.Diagnostics;
using System.Net;

namespace Basalt.Bench;

/// <summary>Closed-loop load: N workers each send a request as soon as the previous one answered,
/// for a fixed duration after a warm-up; records every latency.</summary>
internal sealed class LoadGenerator(HttpClient client)
{
    public async Task<LoadResult> RunAsync(Func<HttpRequestMessage> request, int concurrency, TimeSpan warmup, TimeSpan duration)
    {
        var latencies = new List<double>[concurrency];
        var errors = 0;
        var measuring = false;
        var stopAt = long.MaxValue;
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var mine = latencies[w] = new List<double>(1 << 16);
            workers[w] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < Volatile.Read(ref stopAt))
                {
                    var start = Stopwatch.GetTimestamp();
                    using var response = await client.SendAsync(request(), HttpCompletionOption.ResponseContentRead);
                    var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (response.StatusCode != HttpStatusCode.OK)
                        Interlocked.Increment(ref errors);
                    if (Volatile.Read(ref measuring))
                        mine.Add(elapsed);
                }
            });
        }
        await Task.Delay(warmup);
        Volatile.Write(ref measuring, true);
        var measuredStart = Stopwatch.GetTimestamp();
        Volatile.Write(ref stopAt, measuredStart + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(measuredStart).TotalSeconds;
        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        return new LoadResult(concurrency, all.Length, all.Length / seconds, Percentile(all, 0.50), Percentile(all, 0.99), errors);
    }

    private static double Percentile(double[] sorted, double p)
        => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

/// <summary>Figures of one load run.</summary>
internal sealed record LoadResult(int Concurrency, int Requests, double RequestsPerSecond, double P50Ms, double P99Ms, int Errors);
