using System.Collections.Concurrent;

namespace Voice.Host.Security;

/// <summary>
/// A token bucket per API key, refilled on demand from the time since it was last used: no timer runs while
/// nobody calls. (ASP.NET Core's partitioned limiter wakes every 100 ms to refill its buckets, which on a quiet
/// host was most of its idle CPU.)
/// </summary>
internal sealed class KeyRateLimits(double perSecond, int burst, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    private int _hosts = 1;

    public double PerSecond => perSecond;

    public int Burst => burst;

    /// <summary>
    /// The hosts of a cluster sharing the limits (1 alone). Each takes its share: a key may make <see cref="PerSecond"/>
    /// requests a second across the cluster, as near as a load balancer that spreads requests evenly makes it, with no
    /// round trip to the database per request.
    /// </summary>
    public int Hosts
    {
        get => Volatile.Read(ref _hosts);
        set => Volatile.Write(ref _hosts, Math.Max(1, value));
    }

    /// <summary>Takes a token from <paramref name="key"/>'s bucket; false, with when the next one is due, when it is empty.</summary>
    public bool TryTake(string key, out TimeSpan retryAfter)
    {
        var hosts = Hosts;
        var (rate, size) = (perSecond / hosts, Math.Max(1.0, (double)burst / hosts));
        var bucket = _buckets.GetOrAdd(key, _ => new Bucket(size, time.GetTimestamp()));
        lock (bucket)
        {
            var now = time.GetTimestamp();
            bucket.Tokens = Math.Min(size, bucket.Tokens + (time.GetElapsedTime(bucket.Refilled, now).TotalSeconds * rate));
            bucket.Refilled = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }
            retryAfter = TimeSpan.FromSeconds((1 - bucket.Tokens) / rate);
            return false;
        }
    }

    private sealed class Bucket(double tokens, long refilled)
    {
        public double Tokens { get; set; } = tokens;

        public long Refilled { get; set; } = refilled;
    }
}
