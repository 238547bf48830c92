using Voice.Control.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Voice.Control.Calls;
using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>Signed webhooks from the outbox: order, retries through a receiver outage, and a restart in the middle.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class WebhookTests(Engine engine)
{
    private const string Secret = "whsec-test-0123456789";

    private static readonly Dictionary<string, string?> FastRetries = new()
    {
        ["WEBHOOK_SECRET"] = Secret,
        ["Webhooks:InitialBackoffMs"] = "20",
        ["Webhooks:MaxBackoffSeconds"] = "1",
        ["Webhooks:TimeoutSeconds"] = "2",
    };

    [TearDown]
    public void ReleaseFiles() => SqliteConnection.ClearAllPools();

    /// <summary>What a receiver does with the header: HMAC-SHA256 over "t.body" with the shared secret, computed here independently.</summary>
    private static bool SignedWithSecret(WebhookReceiver.Received hook)
    {
        var parts = hook.Signature.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(parts["t"] + "." + hook.Body));
        var fresh = Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(parts["t"])) < 60;
        return fresh && Convert.ToHexStringLower(mac) == parts["v1"];
    }

    /// <summary>Waits until none of the call's webhooks is pending any more (the receiver may have answered before the outcome is written).</summary>
    private static async Task<JsonElement> SettledWebhooksAsync(HttpClient client, string callId)
    {
        JsonElement webhooks = default;
        await HostFactory.Eventually(async () =>
            (await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).TryGetProperty("webhooks", out webhooks) && webhooks.GetProperty("pending").GetInt32() == 0,
            $"the webhooks of {callId} are settled");
        return webhooks;
    }

    private static JsonElement Json(WebhookReceiver.Received hook) => JsonSerializer.Deserialize<JsonElement>(hook.Body);

    [Test]
    public async Task Every_state_change_is_posted_signed_in_order_with_the_original_fields()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new HostFactory(FastRetries, engine: engine);
        using var client = factory.CreateClient();

        var callId = await HostFactory.PlaceAsync(client, $$"""
            {"to":"+15005550000","message":"Disk at 95 percent.","webhookUrl":"{{receiver.Url}}","tag":{"alert":"disk","host":"nas-01"} }
            """);
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 5, "five webhooks (queued, dialing, ringing, playing, completed)");

        var hooks = receiver.Accepted;
        Assert.That(hooks.Select(h => Json(h).GetProperty("event").GetString()), Is.EqualTo(new[] { "queued", "dialing", "ringing", "playing", "completed" }));
        Assert.That(hooks.Select(h => Json(h).GetProperty("sequence").GetInt32()), Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
        Assert.That(hooks.All(SignedWithSecret), "each signature verifies with the configured secret");
        Assert.That(hooks.Select(h => h.EventHeader), Is.EqualTo(new[] { "queued", "dialing", "ringing", "playing", "completed" }));
        Assert.That(hooks[0].ContentType, Does.StartWith("application/json"));

        var last = Json(hooks[^1]);
        Assert.That(last.GetProperty("callId").GetString(), Is.EqualTo(callId));
        Assert.That(last.GetProperty("to").GetString(), Is.EqualTo("+15005550000"));
        Assert.That(last.GetProperty("reason").GetString(), Is.EqualTo("announce_complete"));
        Assert.That(last.GetProperty("duration").ValueKind, Is.EqualTo(JsonValueKind.Number));
        Assert.That(last.GetProperty("tag").GetProperty("host").GetString(), Is.EqualTo("nas-01"), "the tag is echoed as JSON");
        Assert.That(last.GetProperty("simulated").GetBoolean(), Is.True);
        Assert.That(DateTimeOffset.Parse(last.GetProperty("timestamp").GetString()!), Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
        Assert.That(Json(hooks[3]).GetProperty("sipStatus").GetInt32(), Is.EqualTo(200));

        var webhooks = await SettledWebhooksAsync(client, callId);
        Assert.That((webhooks.GetProperty("delivered").GetInt32(), webhooks.GetProperty("pending").GetInt32()), Is.EqualTo((5, 0)));
        Assert.That(webhooks.GetProperty("deliveries")[4].GetProperty("lastHttpStatus").GetInt32(), Is.EqualTo(200));
    }

    [Test]
    public async Task Only_the_states_in_webhookEvents_are_sent_and_a_tampered_body_does_not_verify()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new HostFactory(FastRetries, engine: engine);
        using var client = factory.CreateClient();

        var callId = await HostFactory.PlaceAsync(client, $$"""
            {"to":"+15005550001","message":"Busy line.","webhookUrl":"{{receiver.Url}}","webhookEvents":["completed","failed"]}
            """);
        await HostFactory.WaitForEndAsync(client, callId);
        await HostFactory.Eventually(async () => (await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).TryGetProperty("webhooks", out var w)
            && w.GetProperty("delivered").GetInt32() == 1);

        var hook = receiver.Accepted.Single();
        Assert.That((Json(hook).GetProperty("event").GetString(), Json(hook).GetProperty("reason").GetString(), Json(hook).GetProperty("sipStatus").GetInt32()),
            Is.EqualTo(("failed", "busy", 486)));
        var secret = Encoding.UTF8.GetBytes(Secret);
        Assert.That(WebhookSignature.Verify(secret, hook.Signature, hook.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), Is.True);
        Assert.That(WebhookSignature.Verify(secret, hook.Signature, hook.Body.Replace("busy", "answered"), DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), Is.False);
        Assert.That(WebhookSignature.Verify(Encoding.UTF8.GetBytes("other"), hook.Signature, hook.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), Is.False);
        Assert.That(WebhookSignature.Verify(secret, hook.Signature, hook.Body, DateTimeOffset.UtcNow.AddHours(1), TimeSpan.FromMinutes(5)), Is.False, "a replay an hour later");
    }

    [Test]
    public async Task A_receiver_that_fails_then_recovers_gets_every_event_once_in_order()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // Down: 503s and 429s for the first six attempts; then up.
        receiver.AnswerInTurn((503, 3), (429, 3));
        await using var factory = new HostFactory(FastRetries, engine: engine);
        using var client = factory.CreateClient();

        var first = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550000","message":"One.","webhookUrl":"{{receiver.Url}}"}""");
        var second = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550003","message":"Two.","webhookUrl":"{{receiver.Url}}"}""");
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 8, "5 webhooks of the answered call and 3 of the unknown number");

        foreach (var (callId, expected) in new[] { (first, new[] { 1, 2, 3, 4, 5 }), (second, new[] { 1, 2, 3 }) })
        {
            var sequences = receiver.Accepted.Select(Json).Where(j => j.GetProperty("callId").GetString() == callId).Select(j => j.GetProperty("sequence").GetInt32());
            Assert.That(sequences, Is.EqualTo(expected), $"call {callId}: every event once, in order");
        }
        // At least the six scripted failures: two calls' webhooks arrive together, and WireMock's scenario may answer
        // one more request from a step before it moves on to the next.
        Assert.That(receiver.Requests.Count(r => r.AnsweredStatus != 200), Is.InRange(6, 8), "the failed attempts were retried");
        var deliveries = (await SettledWebhooksAsync(client, first)).GetProperty("deliveries").EnumerateArray().ToList();
        Assert.That(deliveries.Select(d => d.GetProperty("status").GetString()), Has.All.EqualTo("delivered"));
        Assert.That(deliveries.Sum(d => d.GetProperty("attempts").GetInt32()), Is.GreaterThan(5), "attempts are counted");
    }

    [Test]
    public async Task A_receiver_that_drops_the_connection_is_tried_again()
    {
        await using var receiver = new DroppingReceiver(drops: 2);
        await using var factory = new HostFactory(FastRetries, engine: engine);
        using var client = factory.CreateClient();
        var callId = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550001","message":"Busy.","webhookUrl":"{{receiver.Url}}","webhookEvents":["failed"]}""");
        var delivery = (await SettledWebhooksAsync(client, callId)).GetProperty("deliveries")[0];
        Assert.That((delivery.GetProperty("status").GetString(), delivery.GetProperty("attempts").GetInt32()), Is.EqualTo(("delivered", 3)));
        Assert.That(receiver.Connections, Is.EqualTo(3));
    }

    /// <summary>
    /// A receiver that closes its first connections without a word, then answers 200: what WireMock.Net cannot do
    /// (its faults still send a status line).
    /// </summary>
    private sealed class DroppingReceiver : IAsyncDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly Task _serving;
        private int _connections;

        public DroppingReceiver(int drops)
        {
            _listener.Start();
            _serving = Task.Run(async () =>
            {
                while (true)
                {
                    System.Net.Sockets.Socket socket;
                    try
                    {
                        socket = await _listener.AcceptSocketAsync();
                    }
                    catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException)
                    {
                        return;
                    }
                    using (socket)
                    {
                        if (Interlocked.Increment(ref _connections) <= drops)
                        {
                            continue;
                        }
                        var buffer = new byte[65536];
                        var text = string.Empty;
                        while (!text.Contains("\r\n\r\n", StringComparison.Ordinal) || !text.TrimEnd().EndsWith('}'))
                        {
                            var n = await socket.ReceiveAsync(buffer);
                            if (n == 0)
                            {
                                break;
                            }
                            text += Encoding.UTF8.GetString(buffer, 0, n);
                        }
                        await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
                    }
                }
            });
        }

        public string Url => $"http://127.0.0.1:{((System.Net.IPEndPoint)_listener.LocalEndpoint).Port}/hook";

        public int Connections => Volatile.Read(ref _connections);

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _serving;
        }
    }

    [Test]
    public async Task A_receiver_that_does_not_answer_in_time_is_tried_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.DelayFirst(TimeSpan.FromSeconds(1.5)); // longer than the one-second attempt limit below
        // The retry comes after the slow answer has finished (1 s limit + at least 0.8 s back-off > 1.5 s).
        await using var factory = new HostFactory(new(FastRetries) { ["Webhooks:TimeoutSeconds"] = "1", ["Webhooks:InitialBackoffMs"] = "1000" }, engine: engine);
        using var client = factory.CreateClient();

        var callId = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550001","message":"Busy.","webhookUrl":"{{receiver.Url}}","webhookEvents":["failed"]}""");
        var webhooks = await SettledWebhooksAsync(client, callId);
        var delivery = webhooks.GetProperty("deliveries")[0];
        Assert.That((delivery.GetProperty("status").GetString(), delivery.GetProperty("attempts").GetInt32()), Is.EqualTo(("delivered", 2)));
        Assert.That(delivery.GetProperty("lastError").ValueKind, Is.EqualTo(JsonValueKind.Null), "the successful attempt clears the error");
        // The receiver logs the slow request once it has finished sleeping.
        await HostFactory.Eventually(async () => receiver.Requests.Count(r => Json(r).GetProperty("callId").GetString() == callId) == 2, "sent again after the timeout");
    }

    [Test]
    public async Task A_receiver_that_rejects_a_webhook_is_not_retried_and_later_events_still_go()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.AnswerEvent("dialing", 410);
        await using var factory = new HostFactory(FastRetries, engine: engine);
        using var client = factory.CreateClient();

        var callId = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550000","message":"Hello.","webhookUrl":"{{receiver.Url}}"}""");
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 4);

        Assert.That(receiver.Requests.Count(r => r.AnsweredStatus == 410), Is.EqualTo(1), "a 4xx is final: no retry");
        var webhooks = await SettledWebhooksAsync(client, callId);
        Assert.That((webhooks.GetProperty("delivered").GetInt32(), webhooks.GetProperty("failed").GetInt32()), Is.EqualTo((4, 1)));
        var dialing = webhooks.GetProperty("deliveries")[1];
        Assert.That((dialing.GetProperty("status").GetString(), dialing.GetProperty("lastHttpStatus").GetInt32()), Is.EqualTo(("failed", 410)));
        Assert.That(dialing.GetProperty("lastError").GetString(), Does.Contain("410"));
    }

    [Test]
    public async Task After_a_crash_mid_call_the_restarted_host_closes_the_call_and_drains_the_outbox_in_order()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var database = new TestDatabase(engine);
        // What a host that died while the phone rang leaves behind: three recorded changes whose webhooks were never sent.
        using var store = database.Open();
        await store.InitializeAsync();
        var now = DateTimeOffset.UtcNow;
        await store.InsertAsync(new CallRecord
        {
            CallId = "crashed-call", To = "+15005550002", Message = "Left over", State = "queued", CreatedAt = now, WebhookUrl = receiver.Url,
            RequestJson = """{"to":"+15005550002","message":"Left over"}""",
        }, null, null);
        var queued = await store.RecordAsync(
        [
            new CallStateChange("crashed-call", 1, null, CallState.Queued, now),
            new CallStateChange("crashed-call", 2, CallState.Queued, CallState.Dialing, now),
            new CallStateChange("crashed-call", 3, CallState.Dialing, CallState.Ringing, now, SipStatus: 180),
        ]);
        Assert.That(queued, Is.EqualTo(3));
        SqliteConnection.ClearAllPools();

        await using var factory = database.Host(FastRetries);
        using var client = factory.CreateClient();
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 4, "the three old webhooks and the host_restart one");

        var bodies = receiver.Accepted.Select(Json).ToList();
        Assert.That(bodies.Select(b => b.GetProperty("event").GetString()), Is.EqualTo(new[] { "queued", "dialing", "ringing", "failed" }));
        Assert.That(bodies[^1].GetProperty("reason").GetString(), Is.EqualTo("host_restart"));
        Assert.That(bodies.Select(b => b.GetProperty("sequence").GetInt32()), Is.EqualTo(new[] { 1, 2, 3, 4 }));
        var history = await store.HistoryAsync("crashed-call");
        Assert.That(history.Select(h => h.State), Is.EqualTo(new[] { "queued", "dialing", "ringing", "failed" }), "history intact");
    }

    [Test]
    public async Task A_webhook_pending_when_the_host_stops_is_sent_by_the_next_start()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.AnswerAll(503);
        using var database = new TestDatabase(engine);
        string callId;
        await using (var first = database.Host(FastRetries))
        {
            using var client = first.CreateClient();
            callId = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550001","message":"Busy.","webhookUrl":"{{receiver.Url}}","webhookEvents":["failed"]}""");
            await HostFactory.WaitForEndAsync(client, callId);
            await HostFactory.Eventually(async () => receiver.Requests.Count >= 2, "the receiver is tried and retried while it is down");
            var pending = (await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}")).GetProperty("webhooks");
            Assert.That(pending.GetProperty("pending").GetInt32(), Is.EqualTo(1));
            Assert.That(pending.GetProperty("deliveries")[0].GetProperty("lastHttpStatus").GetInt32(), Is.EqualTo(503));
        }
        SqliteConnection.ClearAllPools();

        receiver.AnswerAll(200);
        await using var second = database.Host(FastRetries);
        using var again = second.CreateClient();
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 1);
        Assert.That(Json(receiver.Accepted[0]).GetProperty("callId").GetString(), Is.EqualTo(callId));
        Assert.That((await SettledWebhooksAsync(again, callId)).GetProperty("delivered").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task More_pending_webhooks_than_the_sender_holds_in_memory_all_go_out_in_order()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var database = new TestDatabase(engine);
        // Three calls a dead host left with three unsent webhooks each; the next host holds two in memory at a time.
        using var store = database.Open();
        await store.InitializeAsync();
        var now = DateTimeOffset.UtcNow;
        foreach (var id in new[] { "left-1", "left-2", "left-3" })
        {
            await store.InsertAsync(new CallRecord
            {
                CallId = id, To = "+15005550002", Message = "Left over", State = "queued", CreatedAt = now, WebhookUrl = receiver.Url,
                RequestJson = """{"to":"+15005550002","message":"Left over"}""",
            }, null, null);
            await store.RecordAsync(
            [
                new CallStateChange(id, 1, null, CallState.Queued, now),
                new CallStateChange(id, 2, CallState.Queued, CallState.Dialing, now),
                new CallStateChange(id, 3, CallState.Dialing, CallState.Ringing, now, SipStatus: 180),
            ]);
        }
        SqliteConnection.ClearAllPools();

        await using var factory = database.Host(new(FastRetries) { ["Webhooks:MaxInMemory"] = "2" });
        using var client = factory.CreateClient();
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 12, "nine old webhooks and three host_restart ones");

        foreach (var id in new[] { "left-1", "left-2", "left-3" })
        {
            var events = receiver.Accepted.Select(Json).Where(b => b.GetProperty("callId").GetString() == id).ToList();
            Assert.That(events.Select(b => b.GetProperty("sequence").GetInt32()), Is.EqualTo(new[] { 1, 2, 3, 4 }), $"{id} in order, each once");
        }
    }

    /// <summary>The outbox row of a webhook as it is in the database, read past the store (whose reads write queued outcomes first).</summary>
    private static async Task<(string Status, long Attempts)> OnDiskAsync(TestDatabase database, long id)
    {
        await using var connection = await database.ConnectAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(string Status, long Attempts)?>("SELECT status, attempts FROM webhook_outbox WHERE id = @id", new { id });
        Assert.That(row, Is.Not.Null, $"webhook {id} is in the outbox");
        return row!.Value;
    }

    /// <summary>
    /// A store with one call. Its clock (by default one that stands still) decides when queued outcomes get a transaction
    /// of their own: with one that stands still, never unless the test moves it.
    /// </summary>
    private static async Task<CallStore> StoreWithCallAsync(TestDatabase database, string callId, DateTimeOffset now, TimeProvider? clock = null)
    {
        var store = database.Open(clock ?? new SteppedTime());
        await store.InitializeAsync();
        await store.InsertAsync(new CallRecord
        {
            CallId = callId, To = "+15005550000", Message = "Hello", State = "queued", CreatedAt = now, WebhookUrl = "http://127.0.0.1:9/hook",
            RequestJson = """{"to":"+15005550000","message":"Hello"}""",
        }, null, null);
        return store;
    }

    [Test]
    public async Task A_delivery_outcome_is_written_with_the_next_transaction()
    {
        using var database = new TestDatabase(engine);
        var now = DateTimeOffset.UtcNow;
        using var store = await StoreWithCallAsync(database, "hooked", now);
        var first = (await store.WriteAsync([], [new CallStateChange("hooked", 1, null, CallState.Queued, now)], [])).Single();

        store.QueueAttempt("hooked", new WebhookAttempt(first.Id, "delivered", 200, null, now, null));
        Assert.That(await OnDiskAsync(database, first.Id), Is.EqualTo(("pending", 0L)), "queued, not yet written");
        var commits = store.Database.Commits;
        await store.WriteAsync([], [new CallStateChange("hooked", 2, CallState.Queued, CallState.Dialing, now)], []);

        Assert.That(store.Database.Commits - commits, Is.EqualTo(1), "the outcome rode along with the recorder's transaction");
        Assert.That(await OnDiskAsync(database, first.Id), Is.EqualTo(("delivered", 1L)));
    }

    [Test]
    public async Task An_outcome_gets_a_transaction_of_its_own_only_once_it_has_waited_the_whole_delay()
    {
        using var database = new TestDatabase(engine);
        var clock = new SteppedTime();
        var start = clock.Now;
        using var store = await StoreWithCallAsync(database, "hooked", start, clock);
        var (first, second) = await store.WriteAsync([], [
            new CallStateChange("hooked", 1, null, CallState.Queued, start),
            new CallStateChange("hooked", 2, CallState.Queued, CallState.Dialing, start)], []) switch { var hooks => (hooks[0], hooks[1]) };
        SteppedTime.Stepped? Deferred() => clock.Timers.SingleOrDefault(t => t.Due is not null);

        store.QueueAttempt("hooked", new WebhookAttempt(first.Id, "delivered", 200, null, start, null));
        Assert.That(Deferred()?.Due, Is.EqualTo(CallStore.AttemptsWriteDelay), "a write of its own is deferred");
        clock.Now = start.AddMilliseconds(100);
        await store.WriteAsync([], [new CallStateChange("hooked", 3, CallState.Dialing, CallState.Ringing, clock.Now)], []);
        Assert.That(await OnDiskAsync(database, first.Id), Is.EqualTo(("delivered", 1L)), "the recorder's transaction took it");

        clock.Now = start.AddMilliseconds(200);
        store.QueueAttempt("hooked", new WebhookAttempt(second.Id, "delivered", 200, null, clock.Now, null));
        var commits = store.Database.Commits;
        clock.Now = start + CallStore.AttemptsWriteDelay;
        Deferred()!.Fire();
        await HostFactory.Eventually(async () => Deferred()?.Due == TimeSpan.FromMilliseconds(200),
            "the outcome left is 50 ms old: it waits out the rest of its delay, for the next transaction to take it");
        Assert.That((store.Database.Commits - commits, await OnDiskAsync(database, second.Id)), Is.EqualTo((0L, ("pending", 0L))));

        clock.Now = start.AddMilliseconds(200) + CallStore.AttemptsWriteDelay;
        Deferred()!.Fire();
        // The write is visible to readers a moment before the writer counts its commit: wait for both.
        await HostFactory.Eventually(async () => await OnDiskAsync(database, second.Id) == ("delivered", 1L) && store.Database.Commits > commits,
            "written once it has waited the whole delay");
        Assert.That(store.Database.Commits - commits, Is.EqualTo(1L), "in one transaction of its own");
        Assert.That(Deferred(), Is.Null, "nothing more is deferred");
    }

    [Test]
    public async Task Closing_the_store_writes_the_outcomes_still_waiting_for_a_transaction()
    {
        using var database = new TestDatabase(engine);
        var clock = new SteppedTime();
        var store = await StoreWithCallAsync(database, "hooked", clock.Now, clock);
        var hook = (await store.WriteAsync([], [new CallStateChange("hooked", 1, null, CallState.Queued, clock.Now)], [])).Single();
        store.QueueAttempt("hooked", new WebhookAttempt(hook.Id, "delivered", 200, null, clock.Now, null));

        store.Dispose();

        Assert.That(await OnDiskAsync(database, hook.Id), Is.EqualTo(("delivered", 1L)), "written at close, not left for the delay that never came");
    }

    [Test]
    public async Task An_ended_call_and_its_alert_are_read_from_memory_for_a_while_after_its_webhooks_settle_then_from_the_outbox()
    {
        using var database = new TestDatabase(engine);
        var clock = new SteppedTime();
        var now = DateTimeOffset.UtcNow;
        using var store = database.Open(clock);
        await store.InitializeAsync();
        CallRecord Call(string callId) => new()
        {
            CallId = callId, To = "+15005550000", Message = "Hello", State = "queued", CreatedAt = now, WebhookUrl = "http://127.0.0.1:9/hook", AlertId = "alert-7",
            RequestJson = """{"to":"+15005550000","message":"Hello"}""",
        };
        await store.InsertAsync(Call("ended"));
        var hooks = await store.WriteAsync([], [
            new CallStateChange("ended", 1, null, CallState.Queued, now),
            new CallStateChange("ended", 2, CallState.Queued, CallState.Completed, now.AddMilliseconds(10))], []);
        foreach (var hook in hooks)
        {
            store.QueueAttempt("ended", new WebhookAttempt(hook.Id, "delivered", 200, null, now, null));
        }

        clock.Now += HeldWebhooks.KeptAfterSettled - TimeSpan.FromSeconds(1);
        await store.InsertAsync(Call("later"));
        Assert.That((store.TryGetHeldAlert("ended", out var alert), alert), Is.EqualTo((true, (string?)"alert-7")), "still held: its alert needs no read");
        Assert.That((await store.WebhooksAsync("ended")).Select(w => w.Status), Is.EqualTo(new[] { "delivered", "delivered" }));

        clock.Now += TimeSpan.FromSeconds(1);
        await store.InsertAsync(Call("much-later"));
        Assert.That(store.TryGetHeldAlert("ended", out _), Is.False, "released once settled for the whole while: the database has it");
        Assert.That((await store.WebhooksAsync("ended")).Select(w => w.Status), Is.EqualTo(new[] { "delivered", "delivered" }), "read from the outbox, the same");
        Assert.That(store.TryGetHeldAlert("much-later", out _), Is.True, "a new call is held");
    }

    [Test]
    public async Task A_running_call_s_webhooks_read_from_memory_are_what_the_outbox_holds_once_written()
    {
        using var database = new TestDatabase(engine);
        var now = DateTimeOffset.UtcNow;
        using var store = await StoreWithCallAsync(database, "hooked", now);
        var queued = await store.WriteAsync([], [
            new CallStateChange("hooked", 1, null, CallState.Queued, now),
            new CallStateChange("hooked", 2, CallState.Queued, CallState.Dialing, now.AddMilliseconds(10)),
            new CallStateChange("hooked", 3, CallState.Dialing, CallState.Ringing, now.AddMilliseconds(20))], []);
        var (queuedHook, dialing, ringing) = (queued[0], queued[1], queued[2]);
        var at = now.AddTicks(12_345); // not whole milliseconds, as the outbox stores times
        store.QueueAttempt("hooked", new WebhookAttempt(queuedHook.Id, "delivered", 204, null, at, null));
        store.QueueAttempt("hooked", new WebhookAttempt(dialing.Id, "pending", 503, "the receiver answered 503", at, at.AddSeconds(2)));
        store.QueueAttempt("hooked", new WebhookAttempt(ringing.Id, "failed", 400, "the receiver answered 400", at, null));

        var held = await store.WebhooksAsync("hooked");
        Assert.That(held.Select(w => (w.Sequence, w.Status, w.Attempts, w.LastHttpStatus)),
            Is.EqualTo(new[] { (1, "delivered", 1, (int?)204), (2, "pending", 1, (int?)503), (3, "failed", 1, (int?)400) }), "outcomes show at once");
        Assert.That(await OnDiskAsync(database, dialing.Id), Is.EqualTo(("pending", 0L)), "the read cost no write");

        await store.FlushAttemptsAsync();
        using var reopened = database.Open();
        Assert.That(await reopened.WebhooksAsync("hooked"), Is.EqualTo(held), "a store that does not hold the call reads the same from the outbox");
    }

    [Test]
    public async Task A_call_not_held_in_memory_is_read_from_the_outbox_with_its_queued_outcomes_written_first()
    {
        using var database = new TestDatabase(engine);
        var now = DateTimeOffset.UtcNow;
        long id;
        using (var before = await StoreWithCallAsync(database, "hooked", now))
        {
            id = (await before.WriteAsync([], [new CallStateChange("hooked", 1, null, CallState.Queued, now)], [])).Single().Id;
        }

        // As after a restart: the outbox's pending webhook is retried by a store that never held the call.
        using var store = database.Open();
        await store.InitializeAsync();
        store.QueueAttempt("hooked", new WebhookAttempt(id, "pending", 503, "the receiver answered 503", now, now.AddSeconds(1)));
        var states = await store.WebhooksAsync("hooked");
        Assert.That(states.Select(w => (w.Status, w.Attempts, w.LastHttpStatus)), Is.EqualTo(new[] { ("pending", 1, (int?)503) }));
        Assert.That(await OnDiskAsync(database, id), Is.EqualTo(("pending", 1L)), "written before the read");
    }

    [Test]
    public async Task A_delivery_is_written_back_soon_even_when_nothing_else_is_written()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var database = new TestDatabase(engine);
        await using var factory = database.Host(FastRetries);
        using var client = factory.CreateClient();
        var callId = await HostFactory.PlaceAsync(client, $$"""{"to":"+15005550001","message":"Busy.","webhookUrl":"{{receiver.Url}}","webhookEvents":["failed"]}""");
        await HostFactory.WaitForEndAsync(client, callId);
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 1, "the final webhook is delivered");

        // The call has ended: no later write of the recorder can carry the outcome, so the sender writes it itself.
        long id;
        await using (var connection = await database.ConnectAsync())
        {
            id = await connection.ExecuteScalarAsync<long>("SELECT id FROM webhook_outbox WHERE call_id = @call", new { call = callId });
        }
        await HostFactory.Eventually(async () => await OnDiskAsync(database, id) == ("delivered", 1L), "the delivery is on disk");
    }
}
