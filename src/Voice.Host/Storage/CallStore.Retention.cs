using System.Data.Common;
using Dapper;
using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>What a restart finds (calls to close, calls to place again), and the purge of calls past the retention.</summary>
public sealed partial class CallStore
{
    private const string RestartDetail = "VoiceBridge restarted while the call was in progress";

    /// <remarks>
    /// In a cluster only this host's calls (a host restarted under the same <c>HOST_ID</c>): those it had claimed end too,
    /// since one may have been dialled before its first change was written, and nothing is placed again here: the calls
    /// still queued are the cluster's, for any host to claim.
    /// </remarks>
    public Task<(int Closed, IReadOnlyList<CallRecord> Queued)> RecoverAsync(DateTimeOffset now) => OnWriteThreadAsync((connection, transaction) =>
    {
        var interrupted = connection.Query<CallRow>(Clustered
            ? "SELECT * FROM calls WHERE host_id = @host AND state IN ('queued', 'dialing', 'ringing', 'playing')"
            : "SELECT * FROM calls WHERE state IN ('dialing', 'ringing', 'playing')", new { host = HostId }, transaction).ToList();
        // Recorded as any other change: history, the call's row and its webhook.
        Apply(transaction, interrupted.Select(call => new CallStateChange(
            call.call_id, (int)call.last_sequence + 1, null, CallState.Failed, now, HostRestart, Detail: RestartDetail, Simulated: call.simulated != 0)));
        var queued = Clustered ? [] : connection.Query<CallRow>("SELECT * FROM calls WHERE state = 'queued' ORDER BY created_at, call_id", transaction: transaction)
            .Select(r => r.ToRecord()).ToList();
        return (interrupted.Count, (IReadOnlyList<CallRecord>)queued);
    });

    /// <summary>
    /// Deletes ended calls older than <paramref name="before"/>, with their history and webhooks; returns their ids.
    /// Their daily counts are kept, so <see cref="CountAsync"/> still covers the whole year.
    /// </summary>
    public async Task<IReadOnlyList<string>> PurgeAsync(DateTimeOffset before)
    {
        var cutoff = before.ToUnixTimeMilliseconds();
        // Most hours there is nothing to purge: a read finds that out without a turn of the write thread or a commit.
        await using (var connection = await _database.OpenAsync())
        {
            if (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff", new { cutoff }) == 0)
            {
                return [];
            }
        }
        return await OnWriteThreadAsync<IReadOnlyList<string>>((connection, transaction) => Purge(connection, transaction, cutoff));
    }

    private List<string> Purge(DbConnection connection, DbTransaction transaction, long cutoff)
    {
        var purged = connection.Query<string>("SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff", new { cutoff }, transaction).AsList();
        if (purged.Count == 0)
        {
            return purged;
        }
        connection.Execute($"""
            INSERT INTO call_counts_archive (day, caller_id, to_number, calls)
                SELECT {_database.DayOf("created_at")}, COALESCE(caller_id, ''), to_number, COUNT(*) FROM calls
                WHERE ended_at IS NOT NULL AND ended_at < @cutoff GROUP BY 1, 2, 3
                ON CONFLICT (day, caller_id, to_number) DO UPDATE SET calls = call_counts_archive.calls + excluded.calls;
            DELETE FROM call_events WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff);
            DELETE FROM alerts WHERE ended_at IS NOT NULL AND ended_at < @cutoff;
            DELETE FROM webhook_outbox WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff);
            DELETE FROM idempotency_keys WHERE call_id IN (SELECT call_id FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff);
            DELETE FROM calls WHERE ended_at IS NOT NULL AND ended_at < @cutoff;
            """, new { cutoff }, transaction);
        return purged;
    }
}
