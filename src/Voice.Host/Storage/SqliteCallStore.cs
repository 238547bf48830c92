using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;
using Voice.Control.Calls;
using Voice.Host.Webhooks;

namespace Voice.Host.Storage;

/// <summary>
/// Calls, their state history and the webhook outbox in one SQLite file (WAL, so reads never wait for the
/// writer). Times are Unix milliseconds. Each state change is one transaction: the call's row, its history
/// row and, when the call has a webhook for that state, its outbox row — so an event is never recorded
/// without its webhook, or the other way round.
/// </summary>
public sealed partial class SqliteCallStore : IDisposable
{
    /// <summary>The reason of calls that were in progress when the host stopped.</summary>
    public const string HostRestart = "host_restart";

    private const string RestartDetail = "VoiceBridge restarted while the call was in progress";

    /// <summary>Write transactions committed so far: whether a checkpoint has anything to copy.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Pages in the write-ahead log (4 KB each) past which <see cref="Checkpoint"/> starts it over.</summary>
    public const int ResetFrames = 1000;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly WriteThread _thread;
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyReservation> _keys = new(StringComparer.Ordinal);
    private readonly Lock _attemptsLock = new();
    private List<(string CallId, WebhookAttempt Attempt)> _attempts = [];
    private SqliteConnection? _writer;
    private long _commits;
    private readonly SqliteReaders _readers;
    private readonly HeldWebhooks _held = new();

    /// <param name="path">The database file.</param>
    /// <param name="time">The clock of the write thread's windows (see <see cref="Later"/>); the system's by default.</param>
    public SqliteCallStore(string path, TimeProvider? time = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 10 }.ToString();
        _readers = new SqliteReaders(new SqliteConnectionStringBuilder(_connectionString) { Mode = SqliteOpenMode.ReadOnly }.ToString());
        _thread = new WriteThread("SQLite writer", time);
    }

    public async Task InitializeAsync()
    {
        await using var connection = await OpenAsync();
        await connection.ExecuteAsync("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS calls (
                call_id TEXT PRIMARY KEY,
                to_number TEXT NOT NULL,
                caller_id TEXT,
                message TEXT NOT NULL,
                mode TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                sip_status INTEGER,
                detail TEXT,
                tag TEXT,
                simulated INTEGER NOT NULL,
                webhook_url TEXT,
                webhook_events TEXT,
                request_json TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                answered_at INTEGER,
                ended_at INTEGER,
                last_sequence INTEGER NOT NULL DEFAULT 0,
                results TEXT,
                alert_id TEXT,
                attempt INTEGER,
                direction TEXT NOT NULL DEFAULT 'outbound',
                source TEXT,
                application TEXT,
                agent TEXT,
                destination TEXT);
            CREATE INDEX IF NOT EXISTS calls_by_time ON calls (created_at DESC, call_id DESC);
            CREATE INDEX IF NOT EXISTS calls_by_state ON calls (state, created_at DESC);
            CREATE INDEX IF NOT EXISTS calls_by_to ON calls (to_number, created_at DESC);
            CREATE INDEX IF NOT EXISTS calls_by_caller ON calls (caller_id, created_at DESC);
            CREATE TABLE IF NOT EXISTS call_events (
                call_id TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                sip_status INTEGER,
                detail TEXT,
                at INTEGER NOT NULL,
                PRIMARY KEY (call_id, sequence));
            CREATE TABLE IF NOT EXISTS webhook_outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                call_id TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                event TEXT NOT NULL,
                url TEXT NOT NULL,
                body TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL,
                last_status INTEGER,
                last_error TEXT,
                created_at INTEGER NOT NULL,
                delivered_at INTEGER,
                trace_parent TEXT,
                UNIQUE (call_id, sequence));
            -- The pending webhooks in order, read at start-up and after an overflow; ordered as they are written, so
            -- each commit adds to the index's last page (earlier versions kept two indexes keyed by call and by due
            -- time, which nothing reads and which cost every commit a page per call).
            DROP INDEX IF EXISTS outbox_pending;
            DROP INDEX IF EXISTS outbox_due;
            CREATE INDEX IF NOT EXISTS outbox_pending_by_id ON webhook_outbox (id) WHERE status = 'pending';
            CREATE TABLE IF NOT EXISTS call_counts_archive (
                day TEXT NOT NULL,
                caller_id TEXT NOT NULL,
                to_number TEXT NOT NULL,
                calls INTEGER NOT NULL,
                PRIMARY KEY (day, caller_id, to_number));
            CREATE TABLE IF NOT EXISTS idempotency_keys (
                key TEXT PRIMARY KEY,
                call_id TEXT NOT NULL,
                request_hash TEXT NOT NULL,
                created_at INTEGER NOT NULL);
            """);
        // Added after the first release: databases from before them gain the columns (empty for what they hold).
        if (!(await connection.QueryAsync<string>("SELECT name FROM pragma_table_info('webhook_outbox')")).Contains("trace_parent"))
        {
            await connection.ExecuteAsync("ALTER TABLE webhook_outbox ADD COLUMN trace_parent TEXT");
        }
        var callColumns = (await connection.QueryAsync<string>("SELECT name FROM pragma_table_info('calls')")).ToHashSet(StringComparer.Ordinal);
        foreach (var (column, type) in new[] { ("results", "TEXT"), ("alert_id", "TEXT"), ("attempt", "INTEGER"), ("direction", "TEXT NOT NULL DEFAULT 'outbound'"), ("source", "TEXT"), ("application", "TEXT"), ("agent", "TEXT"), ("destination", "TEXT") })
        {
            if (!callColumns.Contains(column))
            {
                await connection.ExecuteAsync($"ALTER TABLE calls ADD COLUMN {column} {type}");
            }
        }
        await connection.ExecuteAsync(AlertsSchema);
        await connection.ExecuteAsync(AgentsSchema);
    }

    /// <summary>
    /// Reserves an idempotency key for a call about to be accepted. Returns the call and request hash that hold
    /// the key instead when it was used before: stored, or accepted moments ago and not yet written. Concurrent
    /// requests with one key agree on a single call. A reservation lasts until its call is written (the key is
    /// then in the database, until the call is withdrawn) or never accepted.
    /// </summary>
    public async Task<(string CallId, string? RequestHash)?> ReserveKeyAsync(string key, string callId, string? requestHash)
    {
        var mine = new KeyReservation();
        var holder = _keys.GetOrAdd(key, mine);
        if (holder != mine)
        {
            return await holder.Decided.Task;
        }
        try
        {
            await using var connection = await OpenAsync();
            var stored = await connection.QuerySingleOrDefaultAsync<(string CallId, string RequestHash)?>(
                "SELECT call_id, request_hash FROM idempotency_keys WHERE key = @key", new { key });
            if (stored is { } found)
            {
                mine.Decided.SetResult(found);
                _keys.TryRemove(KeyValuePair.Create(key, mine));
                return found;
            }
        }
        catch (Exception ex)
        {
            mine.Decided.SetException(ex);
            _keys.TryRemove(KeyValuePair.Create(key, mine));
            throw;
        }
        mine.Decided.SetResult((callId, requestHash));
        return null;
    }

    /// <summary>Stores a new call, with its idempotency key when it has one.</summary>
    public Task InsertAsync(CallRecord call, string? idempotencyKey = null, string? requestHash = null) =>
        WriteAsync([new NewCall(call, idempotencyKey, requestHash)], [], []);

    /// <summary>Removes a call that could not be placed after all (the queue was full), with its idempotency key.</summary>
    public Task DeleteAsync(string callId) => WriteAsync([], [], [callId]);

    /// <summary>
    /// Records state changes in one transaction: each call's row moves on (never backwards: a change older than
    /// the stored one only adds its history row), the history gets one row per change, and the outbox one
    /// webhook per change the call asked for. Returns how many webhooks were queued.
    /// </summary>
    public async Task<int> RecordAsync(IReadOnlyList<CallStateChange> changes) => (await WriteAsync([], changes, [])).Count;

    /// <summary>
    /// One transaction, in this order: new calls (with their idempotency keys), state changes (see
    /// <see cref="RecordAsync"/>), then calls withdrawn because they could not be placed. Returns how many
    /// webhooks were queued: what the sender needs to deliver them without reading them back.
    /// </summary>
    public Task<IReadOnlyList<WebhookDelivery>> WriteAsync(IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn) =>
        _thread.RunAsync(() => WriteHere(calls, changes, withdrawn));

    /// <summary>
    /// Written or failed, these keys no longer need holding in memory: a written key is found in the database, a
    /// failed one is free again. (A withdrawal always comes after its call's insert, whose write released the key already.)
    /// </summary>
    private void ReleaseKeys(IReadOnlyList<NewCall> calls)
    {
        foreach (var call in calls)
        {
            if (call.IdempotencyKey is { } key)
            {
                ReleaseKey(key, call.Call.CallId);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="job"/> on the write thread after a window of up to <paramref name="window"/> for more
    /// writes to arrive (the recorder's group commit); <see cref="Hurry"/> ends the window. False once the store is closed.
    /// </summary>
    internal bool Later(Action job, TimeSpan window) => _thread.Post(job, window);

    /// <summary>Ends the write thread's window now: someone waits for what it would write.</summary>
    internal void Hurry() => _thread.Hurry();

    /// <summary><see cref="WriteAsync"/> from a job already on the write thread (see <see cref="Later"/>), which is where <see cref="WriteAsync"/> runs it too.</summary>
    internal IReadOnlyList<WebhookDelivery> WriteHere(IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn)
    {
        if (!_thread.IsCurrent)
        {
            throw new InvalidOperationException("WriteHere runs on the store's write thread only");
        }
        try
        {
            return Locked(connection => WriteCoreAsync(connection, calls, changes, withdrawn));
        }
        finally
        {
            ReleaseKeys(calls);
        }
    }

    private async Task<IReadOnlyList<WebhookDelivery>> WriteCoreAsync(SqliteConnection connection, IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn)
    {
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        foreach (var call in calls)
        {
            await InsertRowAsync(transaction, call);
        }
        List<WebhookDelivery> queued = changes.Count == 0 ? [] : await ApplyAsync(transaction, changes);
        if (TakeAttempts() is { } attempts)
        {
            await UpdateAttemptsAsync(transaction, attempts);
        }
        foreach (var callId in withdrawn)
        {
            var delete = Command(transaction, "DELETE FROM idempotency_keys WHERE call_id = $call; DELETE FROM calls WHERE call_id = $call; DELETE FROM alerts WHERE alert_id = $call");
            Bind(delete, ("$call", callId));
            await delete.ExecuteNonQueryAsync();
        }
        await transaction.CommitAsync();
        Interlocked.Increment(ref _commits);
        Hold(calls, queued, changes, withdrawn);
        return queued;
    }

    /// <summary>What a committed write changed, in the webhooks held in memory (see <see cref="HeldWebhooks"/>).</summary>
    private void Hold(IReadOnlyList<NewCall> calls, List<WebhookDelivery> queued, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn)
    {
        foreach (var call in calls)
        {
            _held.Hold(call.Call.CallId);
        }
        foreach (var delivery in queued)
        {
            _held.Written(delivery);
        }
        foreach (var change in changes)
        {
            if (CallStateMachine.IsFinal(change.To))
            {
                _held.Ended(change.CallId);
            }
        }
        foreach (var callId in withdrawn)
        {
            _held.Release(callId);
        }
    }

    /// <summary>Frees a key reserved for a call that was never accepted.</summary>
    public void ReleaseKey(string key, string callId)
    {
        if (_keys.TryGetValue(key, out var reservation) && reservation.Decided.Task.IsCompletedSuccessfully
            && reservation.Decided.Task.Result.CallId == callId)
        {
            _keys.TryRemove(KeyValuePair.Create(key, reservation));
        }
    }

    private async Task InsertRowAsync(SqliteTransaction transaction, NewCall accepted)
    {
        var call = accepted.Call;
        var created = call.CreatedAt.ToUnixTimeMilliseconds();
        if (accepted.IdempotencyKey is { } key)
        {
            var remember = Command(transaction, """
                INSERT OR IGNORE INTO idempotency_keys (key, call_id, request_hash, created_at) VALUES ($key, $call, $hash, $created)
                """);
            Bind(remember, ("$key", key), ("$call", call.CallId), ("$hash", accepted.RequestHash), ("$created", created));
            await remember.ExecuteNonQueryAsync();
        }
        var insert = Command(transaction, """
            INSERT INTO calls (call_id, to_number, caller_id, message, mode, state, tag, simulated, webhook_url, webhook_events, request_json, created_at, alert_id, attempt, direction, source, application, agent, destination)
            VALUES ($id, $to, $caller, $message, $mode, $state, $tag, $simulated, $url, $events, $request, $created, $alert, $attempt, $direction, $source, $application, $agent, $destination)
            """);
        Bind(insert, ("$id", call.CallId), ("$to", call.To), ("$caller", call.CallerId), ("$message", call.Message), ("$mode", call.Mode),
            ("$state", call.State), ("$tag", call.Tag), ("$simulated", call.Simulated), ("$url", call.WebhookUrl),
            ("$events", call.WebhookEvents is null ? null : string.Join(',', call.WebhookEvents)), ("$request", call.RequestJson),
            ("$created", created), ("$alert", call.AlertId), ("$attempt", call.Attempt), ("$direction", call.Direction), ("$source", call.Source), ("$application", call.Application),
            ("$agent", call.Agent), ("$destination", call.Destination));
        await insert.ExecuteNonQueryAsync();
        if (accepted.Alert is { } alert)
        {
            await InsertAlertAsync(transaction, alert);
        }
    }

    /// <summary>The work of <see cref="RecordAsync"/> inside the caller's transaction; returns the webhooks it queued.</summary>
    private async Task<List<WebhookDelivery>> ApplyAsync(SqliteTransaction transaction, IEnumerable<CallStateChange> changes)
    {
        // Three statements prepared once and re-bound per change: preparing is most of SQLite's cost here.
        var history = Command(transaction, """
            INSERT OR IGNORE INTO call_events (call_id, sequence, state, reason, sip_status, detail, at)
            VALUES ($call, $sequence, $state, $reason, $sip, $detail, $at)
            """);
        // RETURNING hands back what the webhook needs; no row when the change is older than the stored state.
        var update = Command(transaction, """
            UPDATE calls SET
                state = $state,
                reason = COALESCE($reason, reason),
                sip_status = COALESCE($sip, sip_status),
                detail = COALESCE($detail, detail),
                simulated = $simulated,
                answered_at = CASE WHEN $state = 'playing' THEN $at ELSE answered_at END,
                ended_at = CASE WHEN $state IN ('completed', 'failed') THEN $at ELSE ended_at END,
                last_sequence = $sequence,
                tag = COALESCE($tag, tag),
                results = COALESCE($results, results)
            WHERE call_id = $call AND last_sequence < $sequence
            RETURNING to_number, tag, simulated, webhook_url, webhook_events, answered_at, alert_id, attempt, direction, caller_id, source, application
            """);
        var outbox = Command(transaction, """
            INSERT OR IGNORE INTO webhook_outbox (call_id, sequence, event, url, body, next_attempt_at, created_at, trace_parent)
            VALUES ($call, $sequence, $state, $url, $body, $at, $at, $trace)
            RETURNING id
            """);
        var queued = new List<WebhookDelivery>();
        foreach (var change in changes)
        {
            var state = CallStateMachine.Name(change.To);
            var at = change.At.ToUnixTimeMilliseconds();
            Bind(history, ("$call", change.CallId), ("$sequence", change.Sequence), ("$state", state), ("$reason", change.Reason),
                ("$sip", change.SipStatus), ("$detail", change.Detail), ("$at", at));
            await history.ExecuteNonQueryAsync();
            Bind(update, ("$call", change.CallId), ("$sequence", change.Sequence), ("$state", state), ("$reason", change.Reason),
                ("$sip", change.SipStatus), ("$detail", change.Detail), ("$at", at), ("$simulated", change.Simulated),
                ("$tag", change.Tag), ("$results", CallResultsJson.Serialize(change.Results)));
            WebhookTarget? target;
            await using (var reader = await update.ExecuteReaderAsync())
            {
                target = await WebhookTarget.ReadAsync(reader);
            }
            if (target?.Body(change.CallId, change.Sequence, state, at, change.Reason, change.SipStatus, change.Detail, change.Results) is { } body)
            {
                var trace = TraceParent(change.Trace);
                Bind(outbox, ("$call", change.CallId), ("$sequence", change.Sequence), ("$state", state), ("$url", target.Url), ("$body", body), ("$at", at), ("$trace", trace));
                if (await outbox.ExecuteScalarAsync() is long id)
                {
                    queued.Add(new WebhookDelivery { Id = id, CallId = change.CallId, Sequence = change.Sequence, Event = state, Url = target.Url!, Body = body, CreatedAtMs = at, TraceParent = trace });
                }
            }
        }
        return queued;
    }

    /// <summary>A span's W3C traceparent (version 00), or null for no span.</summary>
    private static string? TraceParent(System.Diagnostics.ActivityContext context) => context == default ? null
        : $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(context.TraceFlags.HasFlag(System.Diagnostics.ActivityTraceFlags.Recorded) ? "01" : "00")}";

    /// <summary>
    /// A command on the writer connection, prepared once and kept: SQLite compiles its statements on first use and
    /// re-binds them afterwards, which saves most of the cost of a small write. Callers hold the write lock.
    /// </summary>
    private SqliteCommand Command(SqliteTransaction transaction, string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _writer!.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }
        command.Transaction = transaction;
        return command;
    }

    private static void Bind(SqliteCommand command, params (string Name, object? Value)[] values)
    {
        foreach (var (name, value) in values)
        {
            if (command.Parameters.Contains(name))
            {
                command.Parameters[name].Value = value ?? DBNull.Value;
            }
            else
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }
        }
    }

    public async Task<CallRecord?> GetAsync(string callId)
    {
        await using var connection = await OpenAsync();
        var row = await connection.QuerySingleOrDefaultAsync<CallRow>("SELECT * FROM calls WHERE call_id = @callId", new { callId });
        return row?.ToRecord();
    }

    /// <summary>The state history of a call, in order.</summary>
    public async Task<IReadOnlyList<(int Sequence, string State, string? Reason, DateTimeOffset At)>> HistoryAsync(string callId)
    {
        await using var connection = await OpenAsync();
        var rows = await connection.QueryAsync<(long Sequence, string State, string? Reason, long At)>(
            "SELECT sequence, state, reason, at FROM call_events WHERE call_id = @callId ORDER BY sequence", new { callId });
        return [.. rows.Select(r => ((int)r.Sequence, r.State, r.Reason, DateTimeOffset.FromUnixTimeMilliseconds(r.At)))];
    }

    /// <summary>Calls newest first, filtered, one page at a time; the cursor is the last call of the page before.</summary>
    public async Task<CallPage> QueryAsync(CallQuery query)
    {
        var sql = new StringBuilder("SELECT * FROM calls WHERE 1 = 1");
        var parameters = new DynamicParameters();
        if (query.State is not null)
        {
            sql.Append(" AND state = @state");
            parameters.Add("state", query.State);
        }
        if (query.To is not null)
        {
            sql.Append(" AND to_number = @to");
            parameters.Add("to", query.To);
        }
        if (query.From is { } from)
        {
            sql.Append(" AND created_at >= @from");
            parameters.Add("from", from.ToUnixTimeMilliseconds());
        }
        if (query.Until is { } until)
        {
            sql.Append(" AND created_at < @until");
            parameters.Add("until", until.ToUnixTimeMilliseconds());
        }
        if (query.Cursor is not null)
        {
            var (at, id) = DecodeCursor(query.Cursor);
            sql.Append(" AND (created_at < @cursorAt OR (created_at = @cursorAt AND call_id < @cursorId))");
            parameters.Add("cursorAt", at);
            parameters.Add("cursorId", id);
        }
        sql.Append(" ORDER BY created_at DESC, call_id DESC LIMIT @limit");
        parameters.Add("limit", query.Limit + 1);
        await using var connection = await OpenAsync();
        var rows = (await connection.QueryAsync<CallRow>(sql.ToString(), parameters)).ToList();
        var page = rows.Take(query.Limit).Select(r => r.ToRecord()).ToList();
        var next = rows.Count > query.Limit ? EncodeCursor(page[^1]) : null;
        return new CallPage(page, next);
    }

    /// <summary>
    /// After a restart: calls that were in progress end as failed with <c>host_restart</c> (their SIP legs died
    /// with the process); calls still queued are returned so they can be placed again.
    /// </summary>
    public Task<(int Closed, IReadOnlyList<CallRecord> Queued)> RecoverAsync(DateTimeOffset now) => OnWriteThreadAsync(async connection =>
    {
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        var interrupted = (await connection.QueryAsync<CallRow>(
            "SELECT * FROM calls WHERE state IN ('dialing', 'ringing', 'playing')", transaction: transaction)).ToList();
        // Recorded as any other change: history, the call's row and its webhook.
        await ApplyAsync(transaction, interrupted.Select(call => new CallStateChange(
            call.call_id, (int)call.last_sequence + 1, null, CallState.Failed, now, HostRestart, Detail: RestartDetail, Simulated: call.simulated != 0)));
        var queued = (await connection.QueryAsync<CallRow>(
            "SELECT * FROM calls WHERE state = 'queued' ORDER BY created_at, call_id", transaction: transaction)).Select(r => r.ToRecord()).ToList();
        await transaction.CommitAsync();
        Interlocked.Increment(ref _commits);
        return (interrupted.Count, (IReadOnlyList<CallRecord>)queued);
    });

    /// <summary>
    /// Deletes ended calls older than <paramref name="before"/>, with their history and webhooks; returns their ids.
    /// Their daily counts are kept, so <see cref="CountAsync"/> still covers the whole year.
    /// </summary>
    public Task<IReadOnlyList<string>> PurgeAsync(DateTimeOffset before) => OnWriteThreadAsync<IReadOnlyList<string>>(async connection =>
    {
        await using var transaction = await connection.BeginTransactionAsync();
        var cutoff = before.ToUnixTimeMilliseconds();
        var purged = (await connection.QueryAsync<string>(
            "SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff", new { cutoff }, transaction)).AsList();
        if (purged.Count == 0)
        {
            return purged;
        }
        await connection.ExecuteAsync("""
            INSERT INTO call_counts_archive (day, caller_id, to_number, calls)
                SELECT date(created_at / 1000, 'unixepoch'), COALESCE(caller_id, ''), to_number, COUNT(*) FROM calls
                WHERE ended_at IS NOT NULL AND ended_at < @cutoff GROUP BY 1, 2, 3
                ON CONFLICT (day, caller_id, to_number) DO UPDATE SET calls = calls + excluded.calls;
            DELETE FROM call_events WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff);
            DELETE FROM alerts WHERE ended_at IS NOT NULL AND ended_at < @cutoff;
            DELETE FROM webhook_outbox WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff);
            DELETE FROM idempotency_keys WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff);
            DELETE FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff;
            """, new { cutoff }, transaction);
        await transaction.CommitAsync();
        Interlocked.Increment(ref _commits);
        return purged;
    });

    /// <summary>
    /// Calls per caller ID and per destination since each of the four period starts (today, this week, this
    /// month, this year), from the calls and from the daily counts kept of calls already purged. Calls placed
    /// with the default caller ID count under <paramref name="defaultCallerId"/>.
    /// </summary>
    public async Task<CallCounts> CountAsync(DateTimeOffset today, DateTimeOffset week, DateTimeOffset month, DateTimeOffset year, string? defaultCallerId)
    {
        var earliest = new[] { today, week, month, year }.Min();
        var parameters = new
        {
            today = today.ToUnixTimeMilliseconds(),
            week = week.ToUnixTimeMilliseconds(),
            month = month.ToUnixTimeMilliseconds(),
            year = year.ToUnixTimeMilliseconds(),
            earliest = earliest.ToUnixTimeMilliseconds(),
            fallback = defaultCallerId ?? string.Empty,
        };
        // The archive counts whole UTC days; its calls are older than the retention, so only long periods reach them.
        const string Rows = """
            SELECT COALESCE(caller_id, @fallback) AS caller, to_number AS number, created_at AS at, 1 AS calls FROM calls WHERE created_at >= @earliest
            UNION ALL
            SELECT CASE caller_id WHEN '' THEN @fallback ELSE caller_id END, to_number, unixepoch(day) * 1000, calls FROM call_counts_archive WHERE unixepoch(day) * 1000 >= @earliest
            """;
        await using var connection = await OpenAsync();
        async Task<List<PeriodCount>> By(string key) => [.. await connection.QueryAsync<PeriodCount>($"""
            SELECT {key} AS Key, SUM(CASE WHEN at >= @today THEN calls ELSE 0 END) AS Today, SUM(CASE WHEN at >= @week THEN calls ELSE 0 END) AS Week,
                   SUM(CASE WHEN at >= @month THEN calls ELSE 0 END) AS Month, SUM(CASE WHEN at >= @year THEN calls ELSE 0 END) AS Year
            FROM ({Rows}) GROUP BY {key} ORDER BY Year DESC, {key}
            """, parameters)];
        return new CallCounts(await By("caller"), await By("number"));
    }

    /// <summary>What a call's webhooks need of its row.</summary>
    private sealed record WebhookTarget(string To, string? Tag, bool Simulated, string? Url, string? Events, long? AnsweredAt, string? AlertId, long? Attempt, Inbound? From)
    {
        /// <summary>
        /// From a row of to_number, tag, simulated, webhook_url, webhook_events, answered_at, alert_id, attempt, direction,
        /// caller_id, source, application; null when there is none.
        /// </summary>
        public static async Task<WebhookTarget?> ReadAsync(System.Data.Common.DbDataReader reader) => await reader.ReadAsync()
            ? new WebhookTarget(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2) != 0,
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetInt64(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetInt64(7),
                reader.GetString(8) == "inbound" ? new Inbound(reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10), reader.IsDBNull(11) ? null : reader.GetString(11)) : null)
            : null;

        /// <summary>
        /// The body of the webhook of one change, or null when the call has no webhook URL or did not ask for this
        /// state. Fixed when the change is recorded, so a retry hours later sends what was true at the time.
        /// </summary>
        public string? Body(string callId, int sequence, string state, long at, string? reason, int? sipStatus, string? detail, CallResults results)
        {
            if (Url is null || (Events is { } events && !events.Split(',').Contains(state)))
            {
                return null;
            }
            long? duration = state is "completed" or "failed" && AnsweredAt is { } answered ? (long)Math.Round((at - answered) / 1000.0) : null;
            return WebhookPayload.Json(new WebhookPayload(callId, sequence, state, DateTimeOffset.FromUnixTimeMilliseconds(at), To, duration, reason, sipStatus, detail, Tag, Simulated)
            {
                Results = results,
                AlertId = AlertId,
                Attempt = (int?)Attempt,
                Inbound = From,
            });
        }
    }

    /// <summary>
    /// Pending webhooks, oldest first (so each call's in sequence), at most <paramref name="limit"/>: what the sender
    /// takes into memory at start-up, and again whenever more were pending than it keeps in memory.
    /// </summary>
    public async Task<IReadOnlyList<(WebhookDelivery Delivery, DateTimeOffset NextAttemptAt)>> PendingWebhooksAsync(int limit)
    {
        await FlushAttemptsOfAsync(null);
        await using var connection = await OpenAsync();
        var rows = await connection.QueryAsync<(long Id, string CallId, long Sequence, string Event, string Url, string Body, long Attempts, long CreatedAt, long NextAttemptAt, string? TraceParent)>("""
            SELECT id, call_id, sequence, event, url, body, attempts, created_at, next_attempt_at, trace_parent
            FROM webhook_outbox WHERE status = 'pending' ORDER BY id LIMIT @limit
            """, new { limit });
        return [.. rows.Select(r => (new WebhookDelivery
        {
            Id = r.Id, CallId = r.CallId, Sequence = r.Sequence, Event = r.Event, Url = r.Url, Body = r.Body, Attempts = r.Attempts, CreatedAtMs = r.CreatedAt,
            TraceParent = r.TraceParent,
        }, DateTimeOffset.FromUnixTimeMilliseconds(r.NextAttemptAt)))];
    }

    /// <summary>
    /// Queues how a webhook delivery attempt went. It is written with the next transaction, normally the
    /// recorder's within milliseconds, or by <see cref="FlushAttemptsAsync"/>: a delivery costs no commit of its
    /// own. Reads of the outbox write them first, so they never see a queued attempt missing; a crash before they
    /// are written sends those webhooks again (delivery is at least once, and a call's webhooks go again in order).
    /// </summary>
    public void QueueAttempt(string callId, WebhookAttempt attempt)
    {
        lock (_attemptsLock)
        {
            _attempts.Add((callId, attempt));
        }
        _held.Attempted(callId, attempt);
    }

    /// <summary>Writes the queued attempts, if any are still waiting.</summary>
    public Task FlushAttemptsAsync() => OnWriteThreadAsync(async connection =>
    {
        if (TakeAttempts() is not { } attempts)
        {
            return false;
        }
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
        await UpdateAttemptsAsync(transaction, attempts);
        await transaction.CommitAsync();
        Interlocked.Increment(ref _commits);
        return true;
    });

    /// <summary>
    /// Writes the queued attempts first when one of them is of <paramref name="callId"/> (null: of any call), on
    /// the write thread: a read may come from a request running on the socket thread, which must not wait for the disk.
    /// </summary>
    private Task FlushAttemptsOfAsync(string? callId)
    {
        lock (_attemptsLock)
        {
            if (_attempts.Count == 0 || (callId is not null && !_attempts.Exists(a => a.CallId == callId)))
            {
                return Task.CompletedTask;
            }
        }
        return FlushAttemptsAsync();
    }

    private List<(string CallId, WebhookAttempt Attempt)>? TakeAttempts()
    {
        lock (_attemptsLock)
        {
            if (_attempts.Count == 0)
            {
                return null;
            }
            var taken = _attempts;
            _attempts = [];
            return taken;
        }
    }

    private async Task UpdateAttemptsAsync(SqliteTransaction transaction, List<(string CallId, WebhookAttempt Attempt)> attempts)
    {
        var update = Command(transaction, """
            UPDATE webhook_outbox SET status = $status, attempts = attempts + 1, last_status = $http, last_error = $error,
                next_attempt_at = COALESCE($retry, next_attempt_at),
                delivered_at = CASE WHEN $status = 'delivered' THEN $at ELSE delivered_at END
            WHERE id = $id
            """);
        foreach (var (_, attempt) in attempts)
        {
            Bind(update, ("$id", attempt.Id), ("$status", attempt.Status), ("$http", attempt.HttpStatus), ("$error", attempt.Error),
                ("$at", attempt.At.ToUnixTimeMilliseconds()), ("$retry", attempt.RetryAt?.ToUnixTimeMilliseconds()));
            await update.ExecuteNonQueryAsync();
        }
    }

    /// <summary>
    /// The webhooks of one call, in order, with how their delivery went: from memory while the call is held (see
    /// <see cref="HeldWebhooks"/>), otherwise from the outbox, with the outcomes queued for it written first.
    /// </summary>
    public async Task<IReadOnlyList<WebhookState>> WebhooksAsync(string callId)
    {
        if (_held.Get(callId) is { } held)
        {
            return held;
        }
        await FlushAttemptsOfAsync(callId);
        return await _readers.QueryAsync(
            "SELECT sequence, event, status, attempts, last_status, last_error, next_attempt_at, delivered_at FROM webhook_outbox WHERE call_id = $call ORDER BY sequence",
            parameters => parameters.AddWithValue("$call", callId),
            row =>
            {
                var status = row.GetString(2);
                return new WebhookState(
                    row.GetInt32(0), row.GetString(1), status, row.GetInt32(3), row.IsDBNull(4) ? null : row.GetInt32(4), row.IsDBNull(5) ? null : row.GetString(5),
                    status == "pending" ? DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(6)) : null,
                    row.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(7)));
            });
    }

    /// <summary>
    /// Copies the write-ahead log into the database file. The copy and its fsyncs run on a connection of their
    /// own, without the write lock, so no write waits for the database file's fsync; writers go on appending. Once
    /// the log holds <see cref="ResetFrames"/> pages, the few pages appended during that copy are copied again
    /// under the write lock, which lets the next write start the log over from its beginning (SQLite restarts
    /// the log only when all of it is in the database file as a write begins). Returns the log's size in pages.
    /// </summary>
    /// <remarks>Synchronous: it blocks for as long as the disk takes, so run it on a thread of its own.</remarks>
    public int Checkpoint()
    {
        int log;
        using (var connection = new SqliteConnection(_connectionString))
        {
            connection.Open();
            log = PassiveCheckpoint(connection);
        }
        if (log < ResetFrames)
        {
            return log;
        }
        _write.Wait();
        try
        {
            return _writer is null ? log : PassiveCheckpoint(_writer);
        }
        finally
        {
            _write.Release();
        }
    }

    private static int PassiveCheckpoint(SqliteConnection connection)
    {
        // One row: busy (0 or 1), pages in the log, pages of it now in the database file.
        var (_, log, _) = connection.QuerySingle<(long Busy, long Log, long Done)>("PRAGMA wal_checkpoint(PASSIVE)");
        return (int)log;
    }

    /// <summary>
    /// Runs a write transaction on <see cref="_thread"/>, under the write lock (which the checkpoint takes to start
    /// the log over). Microsoft.Data.Sqlite completes its asynchronous methods synchronously, so the thread waits
    /// for nothing but the database.
    /// </summary>
    private Task<T> OnWriteThreadAsync<T>(Func<SqliteConnection, Task<T>> write) => _thread.RunAsync(() => Locked(write));

    private T Locked<T>(Func<SqliteConnection, Task<T>> write)
    {
        _write.Wait();
        try
        {
            return write(Writer()).GetAwaiter().GetResult();
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>
    /// The one connection that writes, kept open (used on the write thread, under <see cref="_write"/>). Its <c>synchronous = NORMAL</c>
    /// is a per-connection setting: on pooled connections it would fall back to FULL, an fsync of the WAL at every
    /// commit. In WAL mode NORMAL loses no committed transaction on a process crash, only on a power cut since
    /// the last checkpoint. It does not checkpoint at commit as SQLite's default does (then the fsyncs of the
    /// database file would happen under the write lock): <see cref="Checkpoint"/> does that, and the
    /// writer falls back to it only when the log has grown far past <see cref="ResetFrames"/> (nobody calls
    /// <see cref="Checkpoint"/>, or a reader keeps the log from starting over).
    /// </summary>
    private SqliteConnection Writer()
    {
        if (_writer is null)
        {
            var connection = new SqliteConnection(_connectionString);
            connection.Open();
            connection.Execute($"PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = {ResetFrames * 16}; PRAGMA journal_size_limit = {ResetFrames * 4096 * 4};");
            _writer = connection;
        }
        return _writer;
    }

    public void Dispose()
    {
        _thread.Dispose();
        _readers.Dispose();
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }
        _commands.Clear();
        _writer?.Dispose();
        _writer = null;
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        // No busy_timeout pragma per open: Microsoft.Data.Sqlite retries a busy database until the command
        // timeout (Default Timeout above), and WAL mode is stored in the file itself.
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static string EncodeCursor(CallRecord last) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{last.CreatedAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}|{last.CallId}"));

    /// <exception cref="FormatException">The cursor is not one this store made.</exception>
    public static (long At, string CallId) DecodeCursor(string cursor)
    {
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(cursor));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            return (long.Parse(text[..bar], NumberStyles.None, CultureInfo.InvariantCulture), text[(bar + 1)..]);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentOutOfRangeException or OverflowException)
        {
            throw new FormatException("the cursor is not valid; use the 'next' value of a previous page", ex);
        }
    }

    /// <summary>A row of <c>calls</c> as Dapper reads it (column names as in the table).</summary>
#pragma warning disable IDE1006, SA1300 // the names are the table's columns
    private sealed class CallRow
    {
        public string call_id { get; set; } = string.Empty;

        public string to_number { get; set; } = string.Empty;

        public string? caller_id { get; set; }

        public string message { get; set; } = string.Empty;

        public string mode { get; set; } = "announce";

        public string state { get; set; } = string.Empty;

        public string? reason { get; set; }

        public long? sip_status { get; set; }

        public string? detail { get; set; }

        public string? tag { get; set; }

        public long simulated { get; set; }

        public string? webhook_url { get; set; }

        public string? webhook_events { get; set; }

        public string request_json { get; set; } = "{}";

        public long created_at { get; set; }

        public long? answered_at { get; set; }

        public long? ended_at { get; set; }

        public long last_sequence { get; set; }

        public string? results { get; set; }

        public string? alert_id { get; set; }

        public long? attempt { get; set; }

        public string direction { get; set; } = "outbound";

        public string? source { get; set; }

        public string? application { get; set; }

        public string? agent { get; set; }

        public string? destination { get; set; }

        public CallRecord ToRecord() => new()
        {
            CallId = call_id,
            To = to_number,
            CallerId = caller_id,
            Message = message,
            Mode = mode,
            State = state,
            Reason = reason,
            SipStatus = (int?)sip_status,
            Detail = detail,
            Tag = tag,
            Simulated = simulated != 0,
            WebhookUrl = webhook_url,
            WebhookEvents = webhook_events?.Split(',', StringSplitOptions.RemoveEmptyEntries),
            RequestJson = request_json,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(created_at),
            AnsweredAt = answered_at is { } a ? DateTimeOffset.FromUnixTimeMilliseconds(a) : null,
            EndedAt = ended_at is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null,
            LastSequence = (int)last_sequence,
            ResultsJson = results,
            AlertId = alert_id,
            Attempt = (int?)attempt,
            Direction = direction,
            Source = source,
            Application = application,
            Agent = agent,
            Destination = destination,
        };
    }
#pragma warning restore IDE1006, SA1300
}

/// <summary>A call accepted by the API, to be stored with its idempotency key and the hash of its request (and, for an alert's first attempt, the alert).</summary>
public sealed record NewCall(CallRecord Call, string? IdempotencyKey = null, string? RequestHash = null)
{
    public AlertRecord? Alert { get; init; }
}

/// <summary>An idempotency key held for the call that reserved it first; the others wait for its decision.</summary>
internal sealed class KeyReservation
{
    public TaskCompletionSource<(string CallId, string? RequestHash)> Decided { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
