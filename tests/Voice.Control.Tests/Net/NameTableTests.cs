using Voice.Control.Net;

namespace Voice.Control.Tests.Net;

public class NameTableTests
{
    [Test]
    public void A_name_seen_again_is_the_same_string_and_seeded_ones_are_the_seeds()
    {
        const string seed = "Content-Length";
        var names = new NameTable(capacity: 8, maxLength: 32, seed);

        Assert.That(names.Get("Content-Length".AsSpan()), Is.SameAs(seed));
        var first = names.Get("Call-ID".AsSpan());
        Assert.That(names.Get("Call-ID".AsSpan()), Is.SameAs(first));
        Assert.That(names.Get("call-id".AsSpan()), Is.EqualTo("call-id").And.Not.SameAs(first), "kept exactly as written");
    }

    [Test]
    public void A_peer_sending_new_names_without_end_fills_the_table_only_to_its_capacity()
    {
        var names = new NameTable(capacity: 4, maxLength: 32);
        var kept = Enumerable.Range(0, 4).Select(i => names.Get($"X-Name-{i}".AsSpan())).ToList();
        var beyond = names.Get("X-Name-4".AsSpan());

        Assert.That(kept.Select((name, i) => ReferenceEquals(names.Get($"X-Name-{i}".AsSpan()), name)), Is.All.True, "the first four are kept");
        Assert.That(names.Get("X-Name-4".AsSpan()), Is.EqualTo(beyond).And.Not.SameAs(beyond), "the fifth is a new string each time");

        var roomy = new NameTable(capacity: 100, maxLength: 32);
        var longest = roomy.Get(new string('x', 32).AsSpan());
        var tooLong = roomy.Get(new string('x', 33).AsSpan());
        Assert.That(roomy.Get(new string('x', 32).AsSpan()), Is.SameAs(longest));
        Assert.That(roomy.Get(new string('x', 33).AsSpan()), Is.Not.SameAs(tooLong), "a name past the longest kept is not kept, however much room there is");
    }
}
