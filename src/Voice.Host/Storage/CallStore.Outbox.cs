using System.Data.Common;
using Dapper;
using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>
/// The webhook outbox: rows written with the state changes (<see cref="Apply"/>), the outcomes of delivery attempts
/// (queued in memory and written with the next transaction), and the reads of it.
/// </summary>
public sealed partial class CallStore
{
    /// <summary>How long a delivery attempt's outcome may wait for a transaction to ride along with before it gets one of its own.</summary>
    public static readonly TimeSpan AttemptsWriteDelay = TimeSpan.FromMilliseconds(250);

    private readonly Lock _attemptsLock = new();
    private List<(string CallId, WebhookAttempt Attempt)> _attempts = [];
    /// <summary>A write of the queued attempts is deferred on the write thread (<see cref="WriteDueAttempts"/>); under the attempts' lock.</summary>
    private bool _attemptsWriteDeferred;
    private readonly HeldWebhooks _held;

    /// <summary>What a committed write changed, in the webhooks held in memory (see <see cref="HeldWebhooks"/>).</summary>
    private void Hold(IReadOnlyList<NewCall> calls, List<WebhookDelivery> queued, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn)
    {
        foreach (var call in calls.Where(c => !c.Queued))
        {
            // A call for the cluster's queue is run, and its webhooks written, by whichever host claims it: not held here.
            _held.Hold(call.Call.CallId, call.Call.AlertId);
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

    /// <summary>
    /// Pending webhooks, oldest first (so each call's in sequence), at most <paramref name="limit"/>: what the sender
    /// takes into memory at start-up, and again whenever more were pending than it keeps in memory.
    /// </summary>
    public async Task<IReadOnlyList<(WebhookDelivery Delivery, DateTimeOffset NextAttemptAt)>> PendingWebhooksAsync(int limit)
    {
        await FlushAttemptsOfAsync(null);
        await using var connection = await _database.OpenAsync();
        // In a cluster, this host's: each pending webhook has one owner, the host that runs (or took over) its call.
        var rows = await connection.QueryAsync<(long Id, string CallId, long Sequence, string Event, string Url, string Body, long Attempts, long CreatedAt, long NextAttemptAt, string? TraceParent)>($"""
            SELECT id, call_id, sequence, event, url, body, attempts, created_at, next_attempt_at, trace_parent
            FROM webhook_outbox WHERE status = 'pending'{(Clustered ? " AND host_id = @host" : "")} ORDER BY id LIMIT @limit
            """, new { limit, host = HostId });
        return [.. rows.Select(r => (new WebhookDelivery
        {
            Id = r.Id, CallId = r.CallId, Sequence = r.Sequence, Event = r.Event, Url = r.Url, Body = r.Body, Attempts = r.Attempts, CreatedAtMs = r.CreatedAt,
            TraceParent = r.TraceParent,
        }, DateTimeOffset.FromUnixTimeMilliseconds(r.NextAttemptAt)))];
    }

    /// <summary>
    /// Queues how a webhook delivery attempt went. It is written with the next transaction, normally the recorder's
    /// within milliseconds, or in one of its own once it has waited <see cref="AttemptsWriteDelay"/>: a delivery costs no
    /// commit of its own. Reads of the outbox write them first, so they never see a queued attempt missing; a crash
    /// before they are written sends those webhooks again (delivery is at least once, and a call's webhooks go again in
    /// order).
    /// </summary>
    /// <remarks>
    /// The wait is the write thread's own (<see cref="WriteThread.Defer"/>), not a timer: each timer set woke the
    /// runtime's timer thread, and each that fired a pool thread to hand the write over, a few times per call.
    /// </remarks>
    public void QueueAttempt(string callId, WebhookAttempt attempt)
    {
        bool defer;
        lock (_attemptsLock)
        {
            _attempts.Add((callId, attempt));
            defer = !_attemptsWriteDeferred;
            _attemptsWriteDeferred = true;
        }
        _held.Attempted(callId, attempt);
        if (defer)
        {
            _thread.Defer(WriteDueAttempts, AttemptsWriteDelay);
        }
    }

    /// <summary>
    /// On the write thread: writes the queued attempts once the oldest has waited <see cref="AttemptsWriteDelay"/>. When a
    /// transaction took the older ones meanwhile, the younger wait out the rest of their delay: under load the recorder's
    /// next batch takes them too, instead of a commit of their own every <see cref="AttemptsWriteDelay"/>. A write that
    /// fails puts them back, for the next transaction or the next try.
    /// </summary>
    private void WriteDueAttempts()
    {
        TimeSpan wait;
        lock (_attemptsLock)
        {
            if (_attempts.Count == 0)
            {
                _attemptsWriteDeferred = false;
                return;
            }
            wait = _attempts[0].Attempt.At + AttemptsWriteDelay - _clock.GetUtcNow();
        }
        // The store closing runs this at once, and defers nothing more: then the attempts are written now.
        if (wait > TimeSpan.Zero && _thread.Defer(WriteDueAttempts, wait))
        {
            return;
        }
        lock (_attemptsLock)
        {
            // Cleared before the write takes the queue: an attempt queued meanwhile either defers another write or is taken.
            _attemptsWriteDeferred = false;
        }
        if (TakeAttempts() is not { } attempts)
        {
            return;
        }
        try
        {
            WriteAttempts(attempts);
        }
        catch (Exception ex)
        {
            AttemptsNotWritten?.Invoke(ex);
            lock (_attemptsLock)
            {
                if (!_attemptsWriteDeferred)
                {
                    _attemptsWriteDeferred = _thread.Defer(WriteDueAttempts, AttemptsWriteDelay);
                }
            }
        }
    }

    public event Action<Exception>? AttemptsNotWritten;

    /// <summary>A transaction of their own for attempts taken off the queue; when it fails they go back to its front.</summary>
    private bool WriteAttempts(List<(string CallId, WebhookAttempt Attempt)> attempts)
    {
        try
        {
            return _database.Locked(connection =>
            {
                using var transaction = connection.BeginTransaction();
                UpdateAttempts(transaction, attempts);
                transaction.Commit();
                _database.Committed();
                return true;
            });
        }
        catch
        {
            lock (_attemptsLock)
            {
                _attempts.InsertRange(0, attempts);
            }
            throw;
        }
    }

    public Task FlushAttemptsAsync() => _thread.RunAsync(() => TakeAttempts() is { } attempts && WriteAttempts(attempts));

    /// <summary>
    /// Writes the queued attempts first when one of them is of <paramref name="callId"/> (null: of any call), on the
    /// write thread: a read may come from a request running on the socket thread, which must not wait for the disk.
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

    private void UpdateAttempts(DbTransaction transaction, List<(string CallId, WebhookAttempt Attempt)> attempts)
    {
        var update = Command(transaction, """
            UPDATE webhook_outbox SET status = @status, attempts = attempts + 1, last_status = @http, last_error = @error,
                next_attempt_at = COALESCE(@retry, next_attempt_at),
                delivered_at = CASE WHEN @status = 'delivered' THEN @at ELSE delivered_at END
            WHERE id = @id
            """);
        foreach (var (_, attempt) in attempts)
        {
            Bind(update, ("@id", attempt.Id), ("@status", attempt.Status), ("@http", (long?)attempt.HttpStatus), ("@error", attempt.Error),
                ("@at", attempt.At.ToUnixTimeMilliseconds()), ("@retry", attempt.RetryAt?.ToUnixTimeMilliseconds()));
            update.ExecuteNonQuery();
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
        return await _database.ReadAsync(
            "SELECT sequence, event, status, attempts, last_status, last_error, next_attempt_at, delivered_at FROM webhook_outbox WHERE call_id = @call ORDER BY sequence",
            [("@call", callId)],
            row =>
            {
                var status = row.GetString(2);
                return new WebhookState(
                    (int)row.GetInt64(0), row.GetString(1), status, (int)row.GetInt64(3), row.IsDBNull(4) ? null : (int)row.GetInt64(4), row.IsDBNull(5) ? null : row.GetString(5),
                    status == "pending" ? DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(6)) : null,
                    row.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(row.GetInt64(7)));
            });
    }

    public bool TryGetHeldAlert(string callId, out string? alertId) => _held.TryGetAlert(callId, out alertId);

    /// <summary>What a call's webhooks need of its row.</summary>
    private sealed record WebhookTarget(string To, string? Tag, bool Simulated, string? Url, string? Events, long? AnsweredAt, string? AlertId, long? Attempt,
        (string? From, string? Source, string? Application)? Inbound)
    {
        /// <summary>
        /// From a row of to_number, tag, simulated, webhook_url, webhook_events, answered_at, alert_id, attempt, direction,
        /// caller_id, source, application; null when there is none.
        /// </summary>
        public static WebhookTarget? Read(DbDataReader reader) => reader.Read()
            ? new WebhookTarget(reader.GetString(0), Text(reader, 1), reader.GetInt64(2) != 0, Text(reader, 3), Text(reader, 4), Number(reader, 5),
                Text(reader, 6), Number(reader, 7), reader.GetString(8) == "inbound" ? (Text(reader, 9), Text(reader, 10), Text(reader, 11)) : null)
            : null;

        /// <summary>Whether the call wants a webhook for <paramref name="state"/>: it has a URL, and asked for all states or this one.</summary>
        public bool Wants(string state) => Url is not null && (Events is not { } events || events.Split(',').Contains(state));

        public OutboxEvent Event(CallStateChange change, string state, long at) =>
            new(change.CallId, change.Sequence, state, at, change.Reason, change.SipStatus, change.Detail, change.Results, To, Tag, Simulated, AnsweredAt, AlertId, Attempt)
            {
                Inbound = Inbound,
            };

        private static string? Text(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

        private static long? Number(DbDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetInt64(column);
    }
}
