using Dapper;
using System.Data.Common;

namespace Voice.Host.Storage;

/// <summary>
/// An alert: one POST with <c>retry</c> or <c>escalate</c>, which owns its attempts (each a call with the alert's id).
/// Status is active (an attempt is running or due), acknowledged / answered (by <see cref="OutcomeNumber"/>),
/// exhausted (every attempt of every number ended without it), or canceled (hung up through the API).
/// </summary>
public sealed record AlertRecord
{
    public required string AlertId { get; init; }

    /// <summary>The numbers in order, as dialled: <c>to</c>, then the escalation list.</summary>
    public required IReadOnlyList<string> Numbers { get; init; }

    /// <summary>Attempts per number, the first included.</summary>
    public required int Attempts { get; init; }

    /// <summary>The wait before another attempt at the same number.</summary>
    public required TimeSpan Delay { get; init; }

    /// <summary>What an attempt may end with for the number to be tried again: busy, no_answer, not_acknowledged, failed.</summary>
    public required IReadOnlyList<string> RetryOn { get; init; }

    /// <summary>Success is the digit (an alert with <c>acknowledge</c>); otherwise an answer.</summary>
    public required bool Acknowledge { get; init; }

    /// <summary>The request of the first attempt, from which the others are made (another <c>to</c>, no retry of their own).</summary>
    public required string RequestJson { get; init; }

    public string Status { get; init; } = AlertStatus.Active;

    public string? OutcomeNumber { get; init; }

    /// <summary>When the next attempt is due, while one waits.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }
}

/// <summary>Where an alert is.</summary>
public static class AlertStatus
{
    public const string Active = "active";
    public const string Acknowledged = "acknowledged";
    public const string Answered = "answered";
    public const string Exhausted = "exhausted";
    public const string Canceled = "canceled";
}

/// <summary>Alerts: written with their first attempt, moved on by the alert chains.</summary>
public sealed partial class CallStore
{
    private void InsertAlert(DbTransaction transaction, AlertRecord alert)
    {
        var insert = Command(transaction, """
            INSERT INTO alerts (alert_id, numbers, attempts, delay_ms, retry_on, acknowledge, request_json, status, created_at, host_id)
            VALUES (@id, @numbers, @attempts, @delay, @on, @acknowledge, @request, @status, @created, @host)
            """);
        Bind(insert, ("@id", alert.AlertId), ("@numbers", string.Join(',', alert.Numbers)), ("@attempts", (long)alert.Attempts),
            ("@delay", (long)alert.Delay.TotalMilliseconds), ("@on", string.Join(',', alert.RetryOn)), ("@acknowledge", alert.Acknowledge ? 1L : 0L),
            ("@request", alert.RequestJson), ("@status", alert.Status), ("@created", alert.CreatedAt.ToUnixTimeMilliseconds()), ("@host", HostId));
        insert.ExecuteNonQuery();
    }

    /// <summary>Writes where an alert is: its status, who it ended with, when its next attempt is due.</summary>
    public Task UpdateAlertAsync(string alertId, string status, string? outcomeNumber, DateTimeOffset? nextAttemptAt, DateTimeOffset? endedAt) =>
        OnWriteThreadAsync((connection, transaction) => connection.Execute("""
            UPDATE alerts SET status = @status, outcome_number = @outcomeNumber, next_attempt_at = @next, ended_at = @ended
            WHERE alert_id = @alertId
            """, new { alertId, status, outcomeNumber, next = nextAttemptAt?.ToUnixTimeMilliseconds(), ended = endedAt?.ToUnixTimeMilliseconds() }, transaction));

    public async Task<AlertRecord?> AlertAsync(string alertId)
    {
        await using var connection = await _database.OpenAsync();
        var row = await connection.QuerySingleOrDefaultAsync<AlertRow>("SELECT * FROM alerts WHERE alert_id = @alertId", new { alertId });
        return row?.ToRecord();
    }

    /// <summary>The alerts still active (after a restart: the chains to go on with).</summary>
    public async Task<IReadOnlyList<AlertRecord>> ActiveAlertsAsync()
    {
        await using var connection = await _database.OpenAsync();
        // In a cluster, this host's (others' go on where they run; those of a host that is gone are taken over).
        return [.. (await connection.QueryAsync<AlertRow>(
            $"SELECT * FROM alerts WHERE status = 'active'{(Clustered ? " AND host_id = @host" : "")} ORDER BY created_at", new { host = HostId })).Select(r => r.ToRecord())];
    }

    /// <summary>An alert's attempts, in order.</summary>
    public async Task<IReadOnlyList<CallRecord>> AttemptsAsync(string alertId)
    {
        await using var connection = await _database.OpenAsync();
        return [.. (await connection.QueryAsync<CallRow>("SELECT * FROM calls WHERE alert_id = @alertId ORDER BY attempt", new { alertId })).Select(r => r.ToRecord())];
    }

#pragma warning disable IDE1006, SA1300 // column names
    private sealed class AlertRow
    {
        public string alert_id { get; set; } = string.Empty;

        public string numbers { get; set; } = string.Empty;

        public long attempts { get; set; }

        public long delay_ms { get; set; }

        public string retry_on { get; set; } = string.Empty;

        public long acknowledge { get; set; }

        public string request_json { get; set; } = "{}";

        public string status { get; set; } = AlertStatus.Active;

        public string? outcome_number { get; set; }

        public long? next_attempt_at { get; set; }

        public long created_at { get; set; }

        public long? ended_at { get; set; }

        public string? host_id { get; set; }

        public AlertRecord ToRecord() => new()
        {
            AlertId = alert_id,
            Numbers = numbers.Split(','),
            Attempts = (int)attempts,
            Delay = TimeSpan.FromMilliseconds(delay_ms),
            RetryOn = retry_on.Split(',', StringSplitOptions.RemoveEmptyEntries),
            Acknowledge = acknowledge != 0,
            RequestJson = request_json,
            Status = status,
            OutcomeNumber = outcome_number,
            NextAttemptAt = next_attempt_at is { } next ? DateTimeOffset.FromUnixTimeMilliseconds(next) : null,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(created_at),
            EndedAt = ended_at is { } ended ? DateTimeOffset.FromUnixTimeMilliseconds(ended) : null,
        };
    }
#pragma warning restore IDE1006, SA1300
}
