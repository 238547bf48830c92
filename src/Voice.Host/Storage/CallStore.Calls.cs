using System.Data.Common;
using System.Globalization;
using System.Text;
using Dapper;
using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>Calls and their history: new calls, state changes, withdrawals, and the reads of them.</summary>
public sealed partial class CallStore
{
    private void InsertRow(DbTransaction transaction, NewCall accepted)
    {
        var call = accepted.Call;
        var created = call.CreatedAt.ToUnixTimeMilliseconds();
        if (accepted.IdempotencyKey is { } key)
        {
            var remember = Command(transaction, """
                INSERT INTO idempotency_keys (key, call_id, request_hash, created_at) VALUES (@key, @call, @hash, @created) ON CONFLICT DO NOTHING
                """);
            Bind(remember, ("@key", key), ("@call", call.CallId), ("@hash", accepted.RequestHash), ("@created", created));
            remember.ExecuteNonQuery();
        }
        var insert = Command(transaction, """
            INSERT INTO calls (call_id, to_number, caller_id, message, mode, state, tag, simulated, webhook_url, webhook_events, request_json, created_at, alert_id, attempt, direction, source, application, agent, destination, host_id)
            VALUES (@id, @to, @caller, @message, @mode, @state, @tag, @simulated, @url, @events, @request, @created, @alert, @attempt, @direction, @source, @application, @agent, @destination, @host)
            """);
        Bind(insert, ("@id", call.CallId), ("@to", call.To), ("@caller", call.CallerId), ("@message", call.Message), ("@mode", call.Mode),
            ("@state", call.State), ("@tag", call.Tag), ("@simulated", call.Simulated ? 1L : 0L), ("@url", call.WebhookUrl),
            ("@events", call.WebhookEvents is null ? null : string.Join(',', call.WebhookEvents)), ("@request", call.RequestJson),
            ("@created", created), ("@alert", call.AlertId), ("@attempt", (long?)call.Attempt), ("@direction", call.Direction), ("@source", call.Source),
            ("@application", call.Application), ("@agent", call.Agent), ("@destination", call.Destination), ("@host", accepted.Queued ? null : HostId));
        insert.ExecuteNonQuery();
        if (accepted.Alert is { } alert)
        {
            InsertAlert(transaction, alert);
        }
    }

    /// <summary>
    /// State changes inside the caller's transaction: the history row, the call's row (never moved backwards: a change
    /// older than the stored one only adds its history row) and the outbox row; returns the webhooks it queued.
    /// </summary>
    private List<WebhookDelivery> Apply(DbTransaction transaction, IEnumerable<CallStateChange> changes)
    {
        // Three statements made once and re-bound per change.
        var history = Command(transaction, """
            INSERT INTO call_events (call_id, sequence, state, reason, sip_status, detail, at)
            VALUES (@call, @sequence, @state, @reason, @sip, @detail, @at) ON CONFLICT DO NOTHING
            """);
        // RETURNING hands back what the webhook needs; no row when the change is older than the stored state or, in a
        // cluster, when the call is not this host's (another host closed it as host_lost: this one was taken for dead).
        var update = Command(transaction, $"""
            UPDATE calls SET
                state = @state,
                reason = COALESCE(@reason, reason),
                sip_status = COALESCE(@sip, sip_status),
                detail = COALESCE(@detail, detail),
                simulated = @simulated,
                answered_at = CASE WHEN @state = 'playing' THEN @at ELSE answered_at END,
                ended_at = CASE WHEN @state IN ('completed', 'failed') THEN @at ELSE ended_at END,
                last_sequence = @sequence,
                tag = COALESCE(@tag, tag),
                results = COALESCE(@results, results)
            WHERE call_id = @call AND last_sequence < @sequence{(Clustered ? " AND host_id = @host" : "")}
            RETURNING to_number, tag, simulated, webhook_url, webhook_events, answered_at, alert_id, attempt, direction, caller_id, source, application
            """);
        var outbox = Command(transaction, """
            INSERT INTO webhook_outbox (call_id, sequence, event, url, body, next_attempt_at, created_at, trace_parent, host_id)
            VALUES (@call, @sequence, @state, @url, @body, @at, @at, @trace, @host) ON CONFLICT DO NOTHING
            RETURNING id
            """);
        var queued = new List<WebhookDelivery>();
        foreach (var change in changes)
        {
            var state = CallStateMachine.Name(change.To);
            var at = change.At.ToUnixTimeMilliseconds();
            Bind(history, ("@call", change.CallId), ("@sequence", (long)change.Sequence), ("@state", state), ("@reason", change.Reason),
                ("@sip", (long?)change.SipStatus), ("@detail", change.Detail), ("@at", at));
            history.ExecuteNonQuery();
            Bind(update, ("@call", change.CallId), ("@sequence", (long)change.Sequence), ("@state", state), ("@reason", change.Reason),
                ("@sip", (long?)change.SipStatus), ("@detail", change.Detail), ("@at", at), ("@simulated", change.Simulated ? 1L : 0L),
                ("@tag", change.Tag), ("@results", CallResultsJson.Serialize(change.Results)), ("@host", HostId));
            WebhookTarget? target;
            using (var reader = update.ExecuteReader())
            {
                target = WebhookTarget.Read(reader);
            }
            if (target?.Wants(state) is true)
            {
                var body = _webhookBody(target.Event(change, state, at));
                var trace = TraceParent(change.Trace);
                Bind(outbox, ("@call", change.CallId), ("@sequence", (long)change.Sequence), ("@state", state), ("@url", target.Url), ("@body", body), ("@at", at), ("@trace", trace), ("@host", HostId));
                if (outbox.ExecuteScalar() is long id)
                {
                    queued.Add(new WebhookDelivery { Id = id, CallId = change.CallId, Sequence = change.Sequence, Event = state, Url = target.Url!, Body = body, CreatedAtMs = at, TraceParent = trace });
                }
            }
        }
        return queued;
    }

    /// <summary>Removes a call that could not be placed, with its key (and its alert, when it was the alert's first attempt).</summary>
    private void Withdraw(DbTransaction transaction, string callId)
    {
        foreach (var sql in new[] { "DELETE FROM idempotency_keys WHERE call_id = @call", "DELETE FROM calls WHERE call_id = @call", "DELETE FROM alerts WHERE alert_id = @call" })
        {
            var delete = Command(transaction, sql);
            Bind(delete, ("@call", callId));
            delete.ExecuteNonQuery();
        }
    }

    /// <summary>A span's W3C traceparent (version 00), or null for no span.</summary>
    private static string? TraceParent(System.Diagnostics.ActivityContext context) => context == default ? null
        : $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(context.TraceFlags.HasFlag(System.Diagnostics.ActivityTraceFlags.Recorded) ? "01" : "00")}";

    public async Task<CallRecord?> GetAsync(string callId)
    {
        await using var connection = await _database.OpenAsync();
        var row = await connection.QuerySingleOrDefaultAsync<CallRow>("SELECT * FROM calls WHERE call_id = @callId", new { callId });
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<(int Sequence, string State, string? Reason, DateTimeOffset At)>> HistoryAsync(string callId)
    {
        await using var connection = await _database.OpenAsync();
        var rows = await connection.QueryAsync<(long Sequence, string State, string? Reason, long At)>(
            "SELECT sequence, state, reason, at FROM call_events WHERE call_id = @callId ORDER BY sequence", new { callId });
        return [.. rows.Select(r => ((int)r.Sequence, r.State, r.Reason, DateTimeOffset.FromUnixTimeMilliseconds(r.At)))];
    }

    public async Task<IReadOnlyList<CallRecord>> ActiveAsync()
    {
        await using var connection = await _database.OpenAsync();
        return [.. (await connection.QueryAsync<CallRow>(
            "SELECT * FROM calls WHERE state IN ('queued', 'dialing', 'ringing', 'playing') ORDER BY created_at, call_id")).Select(r => r.ToRecord())];
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
        await using var connection = await _database.OpenAsync();
        var rows = (await connection.QueryAsync<CallRow>(sql.ToString(), parameters)).ToList();
        var page = rows.Take(query.Limit).Select(r => r.ToRecord()).ToList();
        var next = rows.Count > query.Limit ? EncodeCursor(page[^1]) : null;
        return new CallPage(page, next);
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

        public string? host_id { get; set; }

        public long? claimed_at { get; set; }

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
            HostId = host_id,
        };
    }
#pragma warning restore IDE1006, SA1300
}
