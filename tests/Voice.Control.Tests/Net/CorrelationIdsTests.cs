using Voice.Control.Net;

namespace Voice.Control.Tests.Net;

public class CorrelationIdsTests
{
    [Test]
    public void Ids_are_version_4_uuids_in_the_usual_text_form_and_never_repeat()
    {
        var ids = Enumerable.Range(0, 100_000).Select(_ => CorrelationIds.New()).ToList();

        Assert.That(ids, Is.Unique);
        foreach (var id in ids.Take(1000))
        {
            Assert.That(id, Does.Match("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"));
            Assert.That(Guid.Parse(id).Version, Is.EqualTo(4));
        }
        // Every other digit varies: the ids are random, not a counter in UUID clothing.
        var digits = Enumerable.Range(0, 36).Where(i => i is not (8 or 13 or 14 or 18 or 19 or 23));
        Assert.That(digits.Select(i => ids.Take(1000).Select(id => id[i]).Distinct().Count()), Is.All.GreaterThan(10));
    }

    [Test]
    public void Threads_making_ids_at_once_get_distinct_ones()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                ids.Add(CorrelationIds.New());
            }
        });

        Assert.That(ids, Has.Count.EqualTo(80_000));
        Assert.That(ids.Distinct().Count(), Is.EqualTo(80_000));
    }
}
