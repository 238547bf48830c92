using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Voice.Control.Calls;
using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>What only SQLite has: its write lock, files from the releases before migrations, and checkpoints of its log.</summary>
public class SqliteStorageTests
{
    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json) =>
        client.PostAsync("/api/outbound-call", new StringContent(json, Encoding.UTF8, "application/json"));

    [Test]
    public async Task A_POST_is_answered_while_the_database_is_locked_and_its_call_is_written_once_it_is_free()
    {
        await using var factory = new HostFactory();
        using var client = factory.CreateClient();
        await client.GetAsync("/healthz"); // the host is up and its database created

        // Another process holding SQLite's write lock, as a stalled disk would hold a write.
        await using var blocker = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={factory.DatabasePath}");
        await blocker.OpenAsync();
        await using var hold = blocker.CreateCommand();
        hold.CommandText = "BEGIN IMMEDIATE";
        await hold.ExecuteNonQueryAsync();
        var response = await PostAsync(client, """{"to":"+15005550000","message":"The database is busy."}""").WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), "answered before the lock is released");
        var callId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
        using var store = TestStores.Sqlite(factory.DatabasePath);
        Assert.That(await store.GetAsync(callId), Is.Null, "not written yet");

        hold.CommandText = "ROLLBACK";
        await hold.ExecuteNonQueryAsync();
        var ended = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That(ended.GetProperty("state").GetString(), Is.EqualTo("completed"));
        await HostFactory.Eventually(async () => (await store.HistoryAsync(callId)).Select(h => h.State).SequenceEqual(["queued", "dialing", "ringing", "playing", "completed"]));
    }

    [Test]
    public async Task A_database_of_an_earlier_version_drops_the_outbox_indexes_nothing_reads_and_keeps_its_pending_webhooks()
    {
        using var directory = new TemporaryDirectory();
        Directory.CreateDirectory(directory.Path);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={directory.Database};Pooling=False"))
        {
            // A database as the releases before migrations left it: the tables, no migrations table, a call with two
            // pending webhooks, and the two outbox indexes those releases kept.
            await connection.OpenAsync();
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                await Schema.SqliteBaselineAsync(connection, transaction);
                await transaction.CommitAsync();
            }
            using var create = connection.CreateCommand();
            create.CommandText = """
                INSERT INTO calls (call_id, to_number, message, mode, state, simulated, webhook_url, request_json, created_at, last_sequence)
                VALUES ('hooked', '+15005550000', 'Disk full', 'announce', 'dialing', 1, 'http://127.0.0.1:9/hook', '{}', 0, 2);
                INSERT INTO webhook_outbox (call_id, sequence, event, url, body, next_attempt_at, created_at) VALUES
                    ('hooked', 1, 'queued', 'http://127.0.0.1:9/hook', '{}', 0, 0), ('hooked', 2, 'dialing', 'http://127.0.0.1:9/hook', '{}', 0, 0);
                CREATE INDEX outbox_pending ON webhook_outbox (call_id, id) WHERE status = 'pending';
                CREATE INDEX outbox_due ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
                """;
            await create.ExecuteNonQueryAsync();
        }

        using var store = TestStores.Sqlite(directory.Database);
        await store.InitializeAsync();

        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={directory.Database}"))
        {
            await connection.OpenAsync();
            using var indexes = connection.CreateCommand();
            indexes.CommandText = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'webhook_outbox' AND sql IS NOT NULL ORDER BY name";
            var names = new List<string>();
            await using (var reader = await indexes.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    names.Add(reader.GetString(0));
                }
            }
            Assert.That(names, Is.EqualTo(new[] { "outbox_pending_by_id" }), "the indexes of today's migrations only, without the cluster's (PostgreSQL only)");
            indexes.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('calls_unclaimed', 'calls_by_host', 'calls_by_claim')";
            Assert.That(await indexes.ExecuteScalarAsync(), Is.EqualTo(0L), "no call is claimed or owned by a host on SQLite, so nothing is indexed for it");
        }
        var pending = await store.PendingWebhooksAsync(10);
        Assert.That(pending.Select(p => (p.Delivery.CallId, p.Delivery.Sequence)), Is.EqualTo(new[] { ("hooked", 1L), ("hooked", 2L) }));
    }

    [Test]
    public async Task A_database_from_before_traces_gains_the_trace_column_keeps_its_webhooks_and_stores_new_traces()
    {
        using var directory = new TemporaryDirectory();
        var now = DateTimeOffset.UtcNow;
        Directory.CreateDirectory(directory.Path);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={directory.Database};Pooling=False"))
        {
            await connection.OpenAsync();
            using var create = connection.CreateCommand();
            // The outbox as the first release created it, with one pending webhook.
            create.CommandText = """
                CREATE TABLE webhook_outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, sequence INTEGER NOT NULL, event TEXT NOT NULL,
                    url TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL, last_status INTEGER, last_error TEXT, created_at INTEGER NOT NULL, delivered_at INTEGER,
                    UNIQUE (call_id, sequence));
                INSERT INTO webhook_outbox (call_id, sequence, event, url, body, next_attempt_at, created_at)
                VALUES ('old', 1, 'queued', 'http://127.0.0.1:9/hook', '{}', 0, 0);
                """;
            await create.ExecuteNonQueryAsync();
        }

        using var store = TestStores.Sqlite(directory.Database);
        await store.InitializeAsync();
        await store.InsertAsync(new CallRecord
        {
            CallId = "new", To = "+15005550000", Message = "Disk full", State = "queued", CreatedAt = now, WebhookUrl = "http://127.0.0.1:9/hook",
            RequestJson = """{"to":"+15005550000","message":"Disk full"}""",
        });
        var span = new System.Diagnostics.ActivityContext(System.Diagnostics.ActivityTraceId.CreateRandom(), System.Diagnostics.ActivitySpanId.CreateRandom(), System.Diagnostics.ActivityTraceFlags.Recorded);
        await store.RecordAsync([new CallStateChange("new", 1, null, CallState.Queued, now) { Trace = span }]);

        var pending = await store.PendingWebhooksAsync(10);
        Assert.That(pending.Select(p => (p.Delivery.CallId, p.Delivery.TraceParent)), Is.EqualTo(new[]
        {
            ("old", (string?)null),
            ("new", $"00-{span.TraceId.ToHexString()}-{span.SpanId.ToHexString()}-01"),
        }));
    }

    [Test]
    public async Task Checkpoints_keep_the_write_ahead_log_short_while_calls_keep_coming()
    {
        using var directory = new TemporaryDirectory();
        using var store = TestStores.Sqlite(directory.Database);
        await store.InitializeAsync();
        var now = DateTimeOffset.UtcNow;
        var log = new FileInfo(directory.Database + "-wal");
        long largest = 0;
        for (var round = 0; round < 25; round++)
        {
            for (var i = 0; i < 100; i++)
            {
                var id = $"call-{round}-{i}";
                await store.InsertAsync(new CallRecord
                {
                    CallId = id, To = "+15005550006", Message = "Backup failed on nas-01", State = "queued", CreatedAt = now,
                    RequestJson = """{"to":"+15005550006","message":"Backup failed on nas-01"}""",
                }, null, null);
                await store.RecordAsync([new CallStateChange(id, 1, null, CallState.Queued, now), new CallStateChange(id, 2, CallState.Queued, CallState.Dialing, now)]);
            }
            ((SqliteDatabase)store.Database).Checkpoint();
            log.Refresh();
            largest = Math.Max(largest, log.Length);
        }

        // Without the checkpoints these 2,500 calls grow the log to 64 MB, where the writer checkpoints by itself.
        Assert.That(largest, Is.LessThan(2L * SqliteDatabase.ResetFrames * 4096), "the log starts over once it is copied");
        var last = await store.GetAsync("call-24-99");
        Assert.That(last?.State, Is.EqualTo("dialing"));
        Assert.That((await store.HistoryAsync("call-0-0")).Select(h => h.State), Is.EqualTo(new[] { "queued", "dialing" }));
    }
}
