using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Basalt.Server.Operations;

/// <summary>The server's counters, exposed at GET /metrics in the Prometheus text format. Every update is an
/// Interlocked add on a counter found with a lock-free dictionary read, so concurrent requests never wait on each other.</summary>
public sealed class ServerMetrics
{
    /// <summary>Upper bounds of the request-duration histogram buckets, in seconds (LLM calls span milliseconds to minutes).</summary>
    public static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    /// <summary>Cost is counted in nano-dollars, so integer adds stay exact.</summary>
    private const decimal NanosPerDollar = 1_000_000_000m;

    private readonly ConcurrentDictionary<(string Face, int Status), Counter> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _durations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Model, string Key), Usage> _usage = new();

    /// <summary>Counts one finished HTTP request.</summary>
    public void RecordRequest(string face, int status, TimeSpan duration)
    {
        _requests.GetOrAdd((face, status), static _ => new Counter()).Add(1);
        _durations.GetOrAdd(face, static _ => new Histogram()).Observe(duration.TotalSeconds);
    }

    /// <summary>Counts one model call's tokens and cost for a key.</summary>
    public void RecordUsage(string model, string key, long inputTokens, long outputTokens, long cacheReadTokens, long cacheWriteTokens, decimal costUsd)
    {
        var u = _usage.GetOrAdd((model, key), static _ => new Usage());
        Interlocked.Increment(ref u.Calls);
        Interlocked.Add(ref u.Input, inputTokens);
        Interlocked.Add(ref u.Output, outputTokens);
        Interlocked.Add(ref u.CacheRead, cacheReadTokens);
        Interlocked.Add(ref u.CacheWrite, cacheWriteTokens);
        Interlocked.Add(ref u.CostNanoUsd, (long)decimal.Round(costUsd * NanosPerDollar));
    }

    /// <summary>Tokens counted so far for a model, key and direction (input, output, cache_read, cache_write).</summary>
    public long Tokens(string model, string key, string direction)
    {
        if (!_usage.TryGetValue((model, key), out var u))
            return 0;
        return direction switch
        {
            "input" => Volatile.Read(ref u.Input),
            "output" => Volatile.Read(ref u.Output),
            "cache_read" => Volatile.Read(ref u.CacheRead),
            "cache_write" => Volatile.Read(ref u.CacheWrite),
            _ => 0,
        };
    }

    /// <summary>Writes every metric in the Prometheus text exposition format (version 0.0.4).</summary>
    public string ToPrometheusText()
    {
        var sb = new StringBuilder(4096);
        sb.Append("# HELP basalt_requests_total HTTP requests served, by API face and status code.\n");
        sb.Append("# TYPE basalt_requests_total counter\n");
        foreach (var ((face, status), c) in _requests.OrderBy(p => p.Key.Face, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
            sb.Append("basalt_requests_total{face=\"").Append(Escape(face)).Append("\",status=\"").Append(status.ToString(CultureInfo.InvariantCulture)).Append("\"} ").Append(c.Value.ToString(CultureInfo.InvariantCulture)).Append('\n');

        sb.Append("# HELP basalt_request_duration_seconds Time to serve an HTTP request, streamed responses until their last byte.\n");
        sb.Append("# TYPE basalt_request_duration_seconds histogram\n");
        foreach (var (face, h) in _durations.OrderBy(p => p.Key, StringComparer.Ordinal))
            h.Write(sb, "basalt_request_duration_seconds", $"face=\"{Escape(face)}\"");

        var usage = _usage.OrderBy(p => p.Key.Model, StringComparer.Ordinal).ThenBy(p => p.Key.Key, StringComparer.Ordinal).ToList();
        sb.Append("# HELP basalt_model_calls_total Model calls, by model and API key.\n");
        sb.Append("# TYPE basalt_model_calls_total counter\n");
        foreach (var ((model, key), u) in usage)
            Line(sb, "basalt_model_calls_total", model, key, null, Volatile.Read(ref u.Calls));
        sb.Append("# HELP basalt_tokens_total Tokens processed, by model, API key and direction (input, output, cache_read, cache_write).\n");
        sb.Append("# TYPE basalt_tokens_total counter\n");
        foreach (var ((model, key), u) in usage)
        {
            Line(sb, "basalt_tokens_total", model, key, "input", Volatile.Read(ref u.Input));
            Line(sb, "basalt_tokens_total", model, key, "output", Volatile.Read(ref u.Output));
            Line(sb, "basalt_tokens_total", model, key, "cache_read", Volatile.Read(ref u.CacheRead));
            Line(sb, "basalt_tokens_total", model, key, "cache_write", Volatile.Read(ref u.CacheWrite));
        }
        sb.Append("# HELP basalt_cost_usd_total Cost in US dollars at the catalog's prices, by model and API key.\n");
        sb.Append("# TYPE basalt_cost_usd_total counter\n");
        foreach (var ((model, key), u) in usage)
            sb.Append("basalt_cost_usd_total{model=\"").Append(Escape(model)).Append("\",key=\"").Append(Escape(key)).Append("\"} ")
              .Append((Volatile.Read(ref u.CostNanoUsd) / NanosPerDollar).ToString(CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }

    private static void Line(StringBuilder sb, string name, string model, string key, string? direction, long value)
    {
        sb.Append(name).Append("{model=\"").Append(Escape(model)).Append("\",key=\"").Append(Escape(key)).Append('"');
        if (direction is not null)
            sb.Append(",direction=\"").Append(direction).Append('"');
        sb.Append("} ").Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>Label values escape backslash, double quote and newline (Prometheus text format).</summary>
    private static string Escape(string value)
    {
        if (value.AsSpan().IndexOfAny("\\\"\n") < 0)
            return value;
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    private sealed class Counter
    {
        private long _value;
        public long Value => Volatile.Read(ref _value);
        public void Add(long n) => Interlocked.Add(ref _value, n);
    }

    private sealed class Usage
    {
        public long Calls;
        public long Input;
        public long Output;
        public long CacheRead;
        public long CacheWrite;
        public long CostNanoUsd;
    }

    private sealed class Histogram
    {
        private readonly long[] _counts = new long[DurationBuckets.Length + 1];
        private long _sumMicros;

        public void Observe(double seconds)
        {
            var i = 0;
            while (i < DurationBuckets.Length && seconds > DurationBuckets[i])
                i++;
            Interlocked.Increment(ref _counts[i]);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1_000_000));
        }

        public void Write(StringBuilder sb, string name, string labels)
        {
            long cumulative = 0;
            for (var i = 0; i <= DurationBuckets.Length; i++)
            {
                cumulative += Volatile.Read(ref _counts[i]);
                var le = i < DurationBuckets.Length ? DurationBuckets[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
                sb.Append(name).Append("_bucket{").Append(labels).Append(",le=\"").Append(le).Append("\"} ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
            sb.Append(name).Append("_sum{").Append(labels).Append("} ").Append((Volatile.Read(ref _sumMicros) / 1_000_000.0).ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append(name).Append("_count{").Append(labels).Append("} ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }
}
