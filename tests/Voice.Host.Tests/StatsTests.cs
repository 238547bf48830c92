using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Voice.Control.Calls;
using Voice.Host.Api;
using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>GET /api/stats: calls per caller ID and destination today, this week, this month and this year, on each engine.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class StatsTests(Engine engine)
{
    [Test]
    public void Periods_start_at_local_midnight_on_the_day_the_week_the_month_and_the_year()
    {
        // Wednesday 2026-01-07 10:00 UTC; in Berlin (UTC+1) the day starts at 23:00 UTC the day before.
        var now = new DateTimeOffset(2026, 1, 7, 10, 0, 0, TimeSpan.Zero);
        var utc = StatsApi.Periods(now, TimeZoneInfo.Utc);
        Assert.That(utc, Is.EqualTo((
            new DateTimeOffset(2026, 1, 7, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero), // Monday
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))));
        var berlin = StatsApi.Periods(now, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));
        Assert.That(berlin.Today.UtcDateTime, Is.EqualTo(new DateTime(2026, 1, 6, 23, 0, 0, DateTimeKind.Utc)));
        // A Sunday belongs to the week that began on the Monday before.
        var sunday = StatsApi.Periods(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero), TimeZoneInfo.Utc);
        Assert.That(sunday.Week, Is.EqualTo(new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero)));
    }

    [Test]
    public async Task Counts_come_from_the_records_per_period_and_survive_the_retention_purge()
    {
        using var database = new TestDatabase(engine);
        using var store = database.Open();
        await store.InitializeAsync();
        var today = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero); // a Friday
        var (week, month, year) = (new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var calls = new (string To, string? CallerId, DateTimeOffset At)[]
        {
            ("+15550001", null, today.AddHours(9)),            // today, default caller ID
            ("+15550001", "+15557777", today.AddHours(10)),    // today
            ("+15550001", "+15557777", week.AddDays(1)),       // this week
            ("+15550002", "+15557777", month.AddDays(3)),      // this month
            ("+15550002", null, year.AddDays(40)),             // this year
            ("+15550002", null, year.AddDays(-3)),             // last year: not counted
        };
        var n = 0;
        foreach (var (to, callerId, at) in calls)
        {
            var id = $"call-{++n}";
            await store.InsertAsync(new CallRecord { CallId = id, To = to, CallerId = callerId, Message = "m", State = "queued", CreatedAt = at, RequestJson = "{}" }, null, null);
            await store.RecordAsync([new CallStateChange(id, 1, null, CallState.Queued, at), new CallStateChange(id, 2, CallState.Queued, CallState.Failed, at.AddSeconds(5), "busy")]);
        }

        async Task Check(string when)
        {
            var counts = await store.CountAsync(today, week, month, year, "+15550000");
            Assert.That(counts.ByDestination.Select(c => (c.Key, c.Today, c.Week, c.Month, c.Year)), Is.EquivalentTo(new[]
            {
                ("+15550001", 2L, 3L, 3L, 3L),
                ("+15550002", 0L, 0L, 1L, 2L),
            }), when);
            Assert.That(counts.ByCallerId.Select(c => (c.Key, c.Today, c.Week, c.Month, c.Year)), Is.EquivalentTo(new[]
            {
                ("+15557777", 1L, 2L, 3L, 3L),
                ("+15550000", 1L, 1L, 1L, 2L),
            }), when);
        }

        await Check("from the records");
        // Retention of 30 days: the calls before late October go, their counts stay.
        var purged = await store.PurgeAsync(today.AddDays(-30));
        Assert.That(purged, Has.Count.EqualTo(2));
        Assert.That(await store.GetAsync("call-5"), Is.Null);
        await Check("after the purge");
    }

    [Test]
    public async Task The_endpoint_counts_todays_calls_and_refuses_an_unknown_time_zone()
    {
        await using var factory = new HostFactory(new() { ["DEFAULT_CALLER_ID"] = "+15551234567" }, engine: engine);
        using var client = factory.CreateClient();
        foreach (var body in new[] { """{"to":"+15005550000","message":"a"}""", """{"to":"+15005550000","message":"b","callerId":"+15559876543"}""" })
        {
            var response = await client.PostAsync("/api/outbound-call", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var stats = await client.GetFromJsonAsync<JsonElement>("/api/stats");
        Assert.That(stats.GetProperty("total").GetProperty("today").GetInt32(), Is.EqualTo(2));
        var destination = stats.GetProperty("byDestination").EnumerateArray().Single();
        Assert.That((destination.GetProperty("to").GetString(), destination.GetProperty("year").GetInt32()), Is.EqualTo(("+15005550000", 2)));
        Assert.That(stats.GetProperty("byCallerId").EnumerateArray().Select(c => c.GetProperty("callerId").GetString()),
            Is.EquivalentTo(new[] { "+15551234567", "+15559876543" }), "the default caller ID counts under its number");

        var zoned = await client.GetFromJsonAsync<JsonElement>("/api/stats?tz=America/New_York");
        Assert.That(zoned.GetProperty("timeZone").GetString(), Is.EqualTo("America/New_York"));
        var bad = await client.GetAsync("/api/stats?tz=Mars/Olympus");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString(), Is.EqualTo("tz"));
    }
}
