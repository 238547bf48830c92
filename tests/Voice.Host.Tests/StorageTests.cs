using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Voice.Control.Calls;
using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>Calls kept in the database, on each engine: history, paging, idempotency, and what a restart finds.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class StorageTests(Engine engine)
{
    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/outbound-call") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }
        return client.SendAsync(request);
    }

    private static async Task<string> PlaceAsync(HttpClient client, string to, string? key = null) =>
        (await (await PostAsync(client, $$"""{"to":"{{to}}","message":"Disk at 95 percent on nas-01."}""", key)).Content.ReadFromJsonAsync<JsonElement>())
        .GetProperty("callId").GetString()!;

    [Test]
    public async Task Ended_calls_stay_in_the_history_newest_first_in_pages_and_filtered()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var ids = new List<string>();
        foreach (var to in new[] { "+15005550000", "+15005550001", "+15005550000", "+15005550003", "+15005550000" })
        {
            var id = await PlaceAsync(client, to);
            await HostFactory.WaitForEndAsync(client, id);
            ids.Add(id);
            await Task.Delay(5); // distinct creation times
        }
        await HostFactory.Eventually(async () => (await client.GetFromJsonAsync<JsonElement>("/api/calls?limit=500")).GetProperty("count").GetInt32() == 5
            && (await client.GetFromJsonAsync<JsonElement>($"/api/calls?state=completed")).GetProperty("count").GetInt32() == 3);

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>("/api/calls?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.That(page.GetProperty("count").GetInt32(), Is.LessThanOrEqualTo(2));
            seen.AddRange(page.GetProperty("calls").EnumerateArray().Select(c => c.GetProperty("callId").GetString()!));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);
        Assert.That(seen, Is.EqualTo(Enumerable.Reverse(ids).ToList()), "every call once, newest first");

        var busy = await client.GetFromJsonAsync<JsonElement>("/api/calls?state=failed&to=%2B15005550001");
        Assert.That(busy.GetProperty("calls").EnumerateArray().Select(c => c.GetProperty("reason").GetString()), Is.EqualTo(new[] { "busy" }));
        var none = await client.GetFromJsonAsync<JsonElement>($"/api/calls?until={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-1).ToString("O"))}");
        Assert.That(none.GetProperty("count").GetInt32(), Is.Zero);
        var recent = await client.GetFromJsonAsync<JsonElement>($"/api/calls?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O"))}");
        Assert.That(recent.GetProperty("count").GetInt32(), Is.EqualTo(5));

        foreach (var bad in new[] { "cursor=nonsense", "limit=0", "state=ringing-ish", "from=yesterday", "to=abc" })
        {
            var response = await client.GetAsync("/api/calls?" + bad);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), bad);
            Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString(), Is.EqualTo(bad[..bad.IndexOf('=')]));
        }
    }

    [Test]
    public async Task A_retried_POST_with_the_same_Idempotency_Key_returns_the_same_call()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        const string body = """{"to":"+15005550000","message":"Only once, please."}""";

        var first = await PostAsync(client, body, "alert-42");
        var second = await PostAsync(client, body, "alert-42");
        var firstId = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString();
        var replay = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(replay.GetProperty("callId").GetString(), Is.EqualTo(firstId));
        Assert.That(second.Headers.GetValues("Idempotent-Replayed"), Is.EqualTo(new[] { "true" }));

        var other = await PostAsync(client, """{"to":"+15005550000","message":"Something else."}""", "alert-42");
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That((await other.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("idempotency_key_reused"));

        await HostFactory.WaitForEndAsync(client, firstId!);
        var history = await client.GetFromJsonAsync<JsonElement>("/api/calls?limit=10");
        Assert.That(history.GetProperty("count").GetInt32(), Is.EqualTo(1), "never a second call");
    }

    [Test]
    public async Task Concurrent_POSTs_with_one_Idempotency_Key_make_one_call()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        const string body = """{"to":"+15005550000","message":"Sent by three automations at once."}""";

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => PostAsync(client, body, "alarm-7")));
        var ids = await Task.WhenAll(responses.Select(async r => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()));
        Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(ids.Distinct().Count(), Is.EqualTo(1), "every request got the same call");
        Assert.That(responses.Count(r => r.Headers.Contains("Idempotent-Replayed")), Is.EqualTo(11));

        await HostFactory.WaitForEndAsync(client, ids[0]!);
        var history = await client.GetFromJsonAsync<JsonElement>("/api/calls?limit=50");
        Assert.That(history.GetProperty("count").GetInt32(), Is.EqualTo(1));
        var later = await PostAsync(client, body, "alarm-7");
        Assert.That((await later.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString(), Is.EqualTo(ids[0]), "the key is kept in the database");
    }

    [Test]
    public async Task A_new_dashboard_session_clears_the_expired_ones_from_the_database()
    {
        using var database = new TestDatabase(engine);
        using var store = database.Open();
        await store.InitializeAsync();
        var start = DateTimeOffset.UtcNow;
        await store.SaveSessionAsync("ended-at-1h", new StoredSession("ops", "csrf-1", start.AddHours(1)), start);
        await store.SaveSessionAsync("ends-at-3h", new StoredSession("ops", "csrf-2", start.AddHours(3)), start);

        // Two hours on, a sign-in: the session that ended at one hour goes, the live one stays.
        await store.SaveSessionAsync("new", new StoredSession("ops", "csrf-3", start.AddHours(14)), start.AddHours(2));

        await using var connection = await database.ConnectAsync();
        var kept = await connection.QueryAsync<string>("SELECT id_hash FROM dashboard_sessions ORDER BY id_hash");
        Assert.That(kept, Is.EqualTo(new[] { "ends-at-3h", "new" }), "signing in over the months does not grow the table");
        Assert.That((await store.FindSessionAsync("ends-at-3h", start.AddHours(2)))?.CsrfToken, Is.EqualTo("csrf-2"));
    }

    [Test]
    public async Task An_alert_whose_first_call_is_withdrawn_is_gone_with_it_and_a_later_attempt_withdrawn_leaves_it()
    {
        using var database = new TestDatabase(engine);
        using var store = database.Open();
        await store.InitializeAsync();
        var now = DateTimeOffset.UtcNow;
        CallRecord Attempt(string id, int attempt) => new()
        {
            CallId = id, To = "+15005550001", Message = "Disk full.", State = "queued", CreatedAt = now, AlertId = "alert-1", Attempt = attempt,
            RequestJson = """{"to":"+15005550001","message":"Disk full."}""",
        };
        var alert = new AlertRecord
        {
            AlertId = "alert-1", Numbers = ["+15005550001"], Attempts = 3, Delay = TimeSpan.FromSeconds(60), RetryOn = ["busy"], Acknowledge = false,
            RequestJson = """{"to":"+15005550001","message":"Disk full."}""", CreatedAt = now,
        };
        await store.WriteAsync([new NewCall(Attempt("alert-1", 1)) { Alert = alert }, new NewCall(Attempt("attempt-2", 2))], [], []);
        Assert.That((await store.AlertAsync("alert-1"))!.Numbers, Is.EqualTo(new[] { "+15005550001" }));
        Assert.That((await store.AttemptsAsync("alert-1")).Select(a => a.Attempt), Is.EqualTo(new int?[] { 1, 2 }));

        await store.DeleteAsync("attempt-2");
        Assert.That(await store.AlertAsync("alert-1"), Is.Not.Null, "a later attempt that could not be placed leaves its alert");
        await store.DeleteAsync("alert-1");
        Assert.That(await store.AlertAsync("alert-1"), Is.Null, "the POST was refused after all: no alert is left active");
        Assert.That(await store.ActiveAlertsAsync(), Is.Empty);
    }

    [Test]
    public async Task A_call_accepted_just_before_the_host_stops_is_kept()
    {
        using var database = new TestDatabase(engine);
        string callId;
        await using (var factory = database.Host())
        {
            using var client = factory.CreateClient();
            callId = await PlaceAsync(client, "+15005550002");
        }

        using var store = database.Open();
        var call = await store.GetAsync(callId);
        Assert.That(call, Is.Not.Null, "written before the host stopped");
        Assert.That(call!.To, Is.EqualTo("+15005550002"));
    }

    [Test]
    public async Task A_restart_closes_calls_that_were_in_progress_and_places_the_queued_ones_again()
    {
        // What a host that died mid-call leaves behind: one call ringing, one still queued.
        using var database = new TestDatabase(engine);
        using var store = database.Open();
        await store.InitializeAsync();
        var now = DateTimeOffset.UtcNow;
        foreach (var (id, to) in new[] { ("ringing-call", "+15005550002"), ("queued-call", "+15005550000") })
        {
            // On PostgreSQL the queued call waits in the cluster's queue (no host owns it yet), as a POST leaves it there.
            await store.WriteAsync([new NewCall(new CallRecord
            {
                CallId = id, To = to, Message = "Left over", State = "queued", CreatedAt = now, Tag = """{"alert":"disk"}""",
                RequestJson = $$"""{"to":"{{to}}","message":"Left over"}""",
            }) { Queued = engine == Engine.Postgres && id == "queued-call" }], [], []);
        }
        await store.RecordAsync(
        [
            new CallStateChange("ringing-call", 1, null, CallState.Queued, now),
            new CallStateChange("ringing-call", 2, CallState.Queued, CallState.Dialing, now),
            new CallStateChange("ringing-call", 3, CallState.Dialing, CallState.Ringing, now, SipStatus: 180),
            new CallStateChange("queued-call", 1, null, CallState.Queued, now),
        ]);

        await using var factory = database.Host();
        using var client = factory.CreateClient();

        var interrupted = await client.GetFromJsonAsync<JsonElement>("/api/call/ringing-call");
        Assert.That((interrupted.GetProperty("state").GetString(), interrupted.GetProperty("reason").GetString()), Is.EqualTo(("failed", "host_restart")));
        Assert.That(interrupted.GetProperty("sipStatus").GetInt32(), Is.EqualTo(180), "what was known before the restart is kept");
        Assert.That(interrupted.GetProperty("tag").GetProperty("alert").GetString(), Is.EqualTo("disk"), "the tag too");
        var history = await store.HistoryAsync("ringing-call");
        Assert.That(history.Select(h => h.State), Is.EqualTo(new[] { "queued", "dialing", "ringing", "failed" }));

        var requeued = await HostFactory.WaitForEndAsync(client, "queued-call");
        Assert.That((requeued.GetProperty("state").GetString(), requeued.GetProperty("reason").GetString()), Is.EqualTo(("completed", "announce_complete")));
        await HostFactory.Eventually(async () => (await store.HistoryAsync("queued-call")).Select(h => h.State).SequenceEqual(["queued", "dialing", "ringing", "playing", "completed"]));
    }

}
