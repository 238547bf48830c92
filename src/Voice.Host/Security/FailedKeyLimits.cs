using System.Collections.Concurrent;
using System.Net;

namespace Voice.Host.Security;

/// <summary>
/// Slows down key guessing: each client address may present <see cref="Burst"/> wrong API keys, then one more
/// every <see cref="Interval"/>. While it has none left, its requests are answered 429 without the key being
/// looked at, so a guess cannot be confirmed even by luck. A right key costs nothing.
/// </summary>
internal sealed class FailedKeyLimits(TimeProvider time)
{
    public const int Burst = 10;

    /// <summary>Addresses tracked before the ones that have recovered their whole allowance are forgotten.</summary>
    private const int MaxTracked = 10_000;

    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(6);

    private readonly ConcurrentDictionary<string, Allowance> _clients = new(StringComparer.Ordinal);

    /// <summary>True while <paramref name="client"/> has no wrong key left, with when it gets the next one.</summary>
    public bool IsBlocked(IPAddress? client, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (!_clients.TryGetValue(Key(client), out var allowance))
        {
            return false;
        }
        lock (allowance)
        {
            var left = Refill(allowance);
            if (left >= 1)
            {
                return false;
            }
            retryAfter = Interval * (1 - left);
            return true;
        }
    }

    /// <summary>Counts one wrong key against <paramref name="client"/>.</summary>
    public void Failed(IPAddress? client)
    {
        if (_clients.Count >= MaxTracked)
        {
            Forget();
        }
        var allowance = _clients.GetOrAdd(Key(client), _ => new Allowance { Left = Burst, Refilled = time.GetTimestamp() });
        lock (allowance)
        {
            allowance.Left = Math.Max(0, Refill(allowance) - 1);
        }
    }

    private double Refill(Allowance allowance)
    {
        var now = time.GetTimestamp();
        allowance.Left = Math.Min(Burst, allowance.Left + (time.GetElapsedTime(allowance.Refilled, now) / Interval));
        allowance.Refilled = now;
        return allowance.Left;
    }

    private void Forget()
    {
        foreach (var (key, allowance) in _clients)
        {
            lock (allowance)
            {
                if (Refill(allowance) >= Burst)
                {
                    _clients.TryRemove(key, out _);
                }
            }
        }
    }

    private static string Key(IPAddress? client) => client?.ToString() ?? "in-process";

    private sealed class Allowance
    {
        public double Left { get; set; }

        public long Refilled { get; set; }
    }
}
