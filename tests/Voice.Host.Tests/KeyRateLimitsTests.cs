using Voice.Host.Security;

namespace Voice.Host.Tests;

/// <summary>A key's token bucket, alone and shared out between the hosts of a cluster.</summary>
public class KeyRateLimitsTests
{
    private sealed class Frozen : TimeProvider
    {
        public long Now { get; set; }

        public override long TimestampFrequency => 1000;

        public override long GetTimestamp() => Now;
    }

    [Test]
    public void Each_of_two_hosts_allows_half_the_burst_and_half_the_rate()
    {
        var clock = new Frozen();
        var limits = new KeyRateLimits(10, 10, clock);
        Assert.That(Enumerable.Range(0, 12).Count(_ => limits.TryTake("alone", out TimeSpan _)), Is.EqualTo(10), "one host: the whole burst");

        limits.Hosts = 2;
        Assert.That(Enumerable.Range(0, 12).Count(_ => limits.TryTake("shared", out TimeSpan _)), Is.EqualTo(5), "half the burst");
        Assert.That(limits.TryTake("shared", out var retry), Is.False);
        Assert.That(retry, Is.EqualTo(TimeSpan.FromMilliseconds(200)), "the next token in 1/5 s: half the rate");
        clock.Now += 1000;
        Assert.That(Enumerable.Range(0, 12).Count(_ => limits.TryTake("shared", out TimeSpan _)), Is.EqualTo(5), "5 tokens a second");

        limits.Hosts = 0;
        Assert.That(limits.Hosts, Is.EqualTo(1), "never fewer than this host");
    }
}
