using Voice.Control.Calls;
using Voice.Control.Simulation;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Calls;

/// <summary>The ids calls get: UUIDs as before, in the order the calls were made.</summary>
public class CallIdsTests
{
    [Test]
    public void A_call_made_later_has_an_id_that_sorts_after_an_earlier_calls()
    {
        var earlier = CallIds.New();
        var made = DateTimeOffset.UtcNow;
        // The id carries the millisecond it was made: the next one is taken once the clock has moved on (a bounded poll).
        while (DateTimeOffset.UtcNow - made < TimeSpan.FromMilliseconds(2))
        {
            Thread.SpinWait(100);
        }
        var later = CallIds.New();

        Assert.Multiple(() =>
        {
            Assert.That(string.CompareOrdinal(earlier, later), Is.LessThan(0), $"{earlier} sorts before {later}");
            Assert.That(Guid.TryParseExact(later, "D", out var uuid), Is.True, "a UUID in its usual 36-character form");
            Assert.That(uuid.Version, Is.EqualTo(7), "time-ordered (RFC 9562)");
        });
    }

    [Test]
    public void Ids_made_in_the_same_millisecond_differ()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => CallIds.New()).ToHashSet(StringComparer.Ordinal);

        Assert.That(ids, Has.Count.EqualTo(10_000));
    }

    [Test]
    public async Task A_placed_call_without_an_id_of_its_own_gets_a_time_ordered_one()
    {
        await using var manager = new CallManager(new CallOptions(), new SimulatedBackend(new SimulationOptions { RingTime = TimeSpan.FromMilliseconds(10) }),
            new FliteSynthesizer(), TestLog.Factory);

        var placed = manager.Place(new CallRequest { To = MagicNumbers.Answers, Message = "Disk full on nas-01" });

        Assert.That(Guid.ParseExact(placed.CallId, "D").Version, Is.EqualTo(7));
    }
}
