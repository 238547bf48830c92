using System.Data.Common;
using Dapper;
using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>What one host of a cluster asks of the shared database (PostgreSQL): leases, claims, take-overs, hand-backs.</summary>
public interface IClusterStore
{
    /// <summary>This host's name, written as the owner of what it runs.</summary>
    string HostId { get; }

    /// <summary>Several hosts may share the database: without that, none of the rest is used.</summary>
    bool Clustered { get; }

    /// <summary>
    /// Holds this host's lease until <paramref name="now"/> + <paramref name="lease"/>. Kept is false when its row was gone
    /// (it is new, or it had been taken for dead); Hosts is how many hosts hold a lease now, this one included.
    /// </summary>
    Task<(bool Kept, int Hosts)> RenewLeaseAsync(DateTimeOffset now, TimeSpan lease);

    /// <summary>
    /// Claims queued calls for this host, oldest first, as many as the cluster's limits allow now: at most
    /// <see cref="ClaimLimits.MaxActive"/> calls running or claimed in the whole cluster, starts no closer than
    /// 1 / <see cref="ClaimLimits.PerSecond"/> apart across the cluster (each claimed call gets its start time), none due
    /// later than <see cref="ClaimLimits.Horizon"/>, and no more than this host has room for. Returns them, and how many
    /// calls still wait in the queue after them.
    /// </summary>
    Task<(IReadOnlyList<ClaimedCall> Claimed, long Waiting)> ClaimQueuedAsync(DateTimeOffset now, ClaimLimits limits);

    /// <summary>Hands claimed calls that were not started back to the queue.</summary>
    Task ReleaseClaimsAsync(IReadOnlyList<string> callIds);

    /// <summary>
    /// Takes over from hosts whose lease has ended: their calls in progress end as failed with <c>host_lost</c>, their
    /// pending webhooks and active alerts become this host's.
    /// </summary>
    Task<Takeover> ReapAsync(DateTimeOffset now);

    /// <summary>Takes pending webhooks and active alerts no host owns (handed back by a host that stopped).</summary>
    Task<Takeover> AdoptAsync();

    /// <summary>A host that stops: its pending webhooks, active alerts and unstarted claims go back to the cluster, and its lease ends.</summary>
    Task LeaveAsync();

    /// <summary>
    /// Ends a call still queued and unclaimed as failed (<c>canceled</c>), claiming it first so no host starts it;
    /// returns its webhook (null when the call was not waiting in the queue).
    /// </summary>
    Task<IReadOnlyList<WebhookDelivery>?> CancelQueuedAsync(string callId, DateTimeOffset now);

    /// <summary>Tells every host listening on <paramref name="channel"/>.</summary>
    Task NotifyAsync(string channel, string payload);

    /// <summary>Hands <paramref name="heard"/> the notifications on <paramref name="channels"/> until stopped (see <see cref="StoreDatabase.ListenAsync"/>).</summary>
    Task ListenAsync(IReadOnlyList<string> channels, Action<string, string> heard, CancellationToken stoppingToken);

    /// <summary>Whether the database answers now.</summary>
    Task<bool> PingAsync(TimeSpan timeout);
}

/// <summary>The limits a claim respects (see <see cref="IClusterStore.ClaimQueuedAsync"/>).</summary>
public sealed record ClaimLimits(int MaxActive, double PerSecond, int LocalFree, TimeSpan Horizon, int Batch = 20);

/// <summary>A call this host claimed, and when it may start.</summary>
public sealed record ClaimedCall(CallRecord Call, DateTimeOffset StartAt);

/// <summary>What a take-over brought: calls closed, webhooks to deliver (in order), alerts to go on with, hosts taken over.</summary>
public sealed record Takeover(int Closed, IReadOnlyList<WebhookDelivery> Webhooks, IReadOnlyList<AlertRecord> Alerts, IReadOnlyList<string> Hosts)
{
    public static readonly Takeover None = new(0, [], [], []);
}

/// <summary>The cluster's operations: PostgreSQL's row locks (<c>FOR UPDATE SKIP LOCKED</c>) and advisory locks keep two hosts from taking the same work.</summary>
public sealed partial class CallStore : IClusterStore
{
    /// <summary>The reason of calls whose host stopped renewing its lease.</summary>
    public const string HostLost = "host_lost";

    private const string LostDetail = "The VoiceBridge host running the call stopped answering; another host closed it";

    /// <summary>Advisory locks: one host at a time counts and claims (the cluster's limits hold exactly), and adopts orphans.</summary>
    private const long ClaimLock = 0x566f69636501;
    private const long AdoptLock = 0x566f69636502;

    private const string Columns = "id, call_id, sequence, event, url, body, attempts, created_at, next_attempt_at, trace_parent";

    public Task<(bool Kept, int Hosts)> RenewLeaseAsync(DateTimeOffset now, TimeSpan lease) => SharedAsync(async (connection, transaction) =>
    {
        var until = (now + lease).ToUnixTimeMilliseconds();
        var kept = await connection.ExecuteAsync("UPDATE hosts SET lease_until = @until WHERE host_id = @host", new { until, host = HostId }, transaction) == 1;
        if (!kept)
        {
            await connection.ExecuteAsync(
                "INSERT INTO hosts (host_id, started_at, lease_until) VALUES (@host, @now, @until) ON CONFLICT (host_id) DO UPDATE SET lease_until = excluded.lease_until",
                new { host = HostId, now = now.ToUnixTimeMilliseconds(), until }, transaction);
        }
        var hosts = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM hosts WHERE lease_until >= @now", new { now = now.ToUnixTimeMilliseconds() }, transaction);
        return (kept, (int)hosts);
    });

    /// <remarks>
    /// On a connection of its own, not the write thread's: a claim's commit waits for the database's disk, and the
    /// recorder's writes go on meanwhile. Most wake-ups find the queue empty, or no room here; that costs one read (the
    /// queue's length, which the POSTs' queue-full check needs anyway), no transaction.
    /// </remarks>
    public async Task<(IReadOnlyList<ClaimedCall> Claimed, long Waiting)> ClaimQueuedAsync(DateTimeOffset now, ClaimLimits limits)
    {
        RequireCluster();
        long waiting;
        await using (var look = await _database.OpenAsync())
        {
            waiting = await look.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM calls WHERE state = 'queued' AND host_id IS NULL");
        }
        if (waiting == 0 || limits.LocalFree <= 0)
        {
            return ([], waiting);
        }
        var claimed = await SharedAsync<IReadOnlyList<ClaimedCall>>(async (connection, transaction) =>
        {
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@lock)", new { @lock = ClaimLock }, transaction);
            var active = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM calls WHERE state IN ('dialing', 'ringing', 'playing') OR (state = 'queued' AND host_id IS NOT NULL)", transaction: transaction);
            var next = await connection.ExecuteScalarAsync<long>("SELECT next_start_at FROM dispatch WHERE id = 1", transaction: transaction);
            var at = now.ToUnixTimeMilliseconds();
            var interval = 1000 / limits.PerSecond;
            var first = Math.Max(next, at);
            var slots = first > at + limits.Horizon.TotalMilliseconds ? 0 : (int)Math.Floor((at + limits.Horizon.TotalMilliseconds - first) / interval) + 1;
            var count = Math.Min(Math.Min(limits.MaxActive - (int)active, slots), Math.Min(limits.LocalFree, limits.Batch));
            if (count <= 0)
            {
                return [];
            }
            var rows = (await connection.QueryAsync<CallRow>("""
                UPDATE calls SET host_id = @host, claimed_at = @at
                WHERE call_id IN (SELECT call_id FROM calls WHERE state = 'queued' AND host_id IS NULL ORDER BY created_at, call_id LIMIT @count FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, new { host = HostId, at, count }, transaction)).OrderBy(r => r.created_at).ThenBy(r => r.call_id, StringComparer.Ordinal).ToList();
            if (rows.Count > 0)
            {
                // The advisory lock keeps the pacing row to one claimer at a time.
                await connection.ExecuteAsync("UPDATE dispatch SET next_start_at = @next WHERE id = 1",
                    new { next = first + (long)Math.Ceiling(rows.Count * interval) }, transaction);
            }
            return [.. rows.Select((row, i) => new ClaimedCall(row.ToRecord(), DateTimeOffset.FromUnixTimeMilliseconds(first + (long)(i * interval))))];
        });
        return (claimed, Math.Max(0, waiting - claimed.Count));
    }

    /// <summary>A transaction on a pooled connection of its own (work of the cluster's that needs none of the write thread's statements).</summary>
    private async Task<T> SharedAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work)
    {
        await using var connection = await _database.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var result = await work(connection, transaction);
        await transaction.CommitAsync();
        return result;
    }

    public Task ReleaseClaimsAsync(IReadOnlyList<string> callIds) => callIds.Count == 0 ? Task.CompletedTask : OnWriteThreadAsync((connection, transaction) =>
        connection.Execute(
            "UPDATE calls SET host_id = NULL, claimed_at = NULL WHERE call_id = @call AND host_id = @host AND state = 'queued'",
            callIds.Select(call => new { call, host = HostId }), transaction));

    public Task<Takeover> ReapAsync(DateTimeOffset now) => OnWriteThreadAsync((connection, transaction) =>
    {
        RequireCluster();
        var dead = connection.Query<string>(
            "SELECT host_id FROM hosts WHERE lease_until < @now AND host_id <> @host FOR UPDATE SKIP LOCKED",
            new { now = now.ToUnixTimeMilliseconds(), host = HostId }, transaction).AsList();
        var closed = 0;
        var webhooks = new List<WebhookDelivery>();
        var written = new List<WebhookDelivery>();
        var alerts = new List<AlertRecord>();
        foreach (var host in dead)
        {
            var lost = connection.Query<CallRow>(
                "UPDATE calls SET host_id = @me WHERE host_id = @host AND state IN ('queued', 'dialing', 'ringing', 'playing') RETURNING *",
                new { me = HostId, host }, transaction).AsList();
            webhooks.AddRange(connection.Query<OutboxRow>(
                $"UPDATE webhook_outbox SET host_id = @me WHERE host_id = @host AND status = 'pending' RETURNING {Columns}", new { me = HostId, host }, transaction)
                .OrderBy(r => r.Id).Select(r => r.Delivery));
            written.AddRange(Apply(transaction, lost.Select(call => new CallStateChange(
                call.call_id, (int)call.last_sequence + 1, null, CallState.Failed, now, HostLost, Detail: LostDetail, Simulated: call.simulated != 0))));
            alerts.AddRange(connection.Query<AlertRow>(
                "UPDATE alerts SET host_id = @me WHERE host_id = @host AND status = 'active' RETURNING *", new { me = HostId, host }, transaction).Select(r => r.ToRecord()));
            connection.Execute("DELETE FROM hosts WHERE host_id = @host", new { host }, transaction);
            closed += lost.Count;
        }
        return dead.Count == 0 ? Takeover.None : new Takeover(closed, [.. webhooks, .. written], alerts, dead);
    });

    public async Task<Takeover> AdoptAsync()
    {
        RequireCluster();
        await using (var look = await _database.OpenAsync())
        {
            if (!await look.ExecuteScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM webhook_outbox WHERE host_id IS NULL AND status = 'pending') OR EXISTS (SELECT 1 FROM alerts WHERE host_id IS NULL AND status = 'active')"))
            {
                return Takeover.None;
            }
        }
        return await SharedAsync(async (connection, transaction) =>
        {
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@lock)", new { @lock = AdoptLock }, transaction);
            var webhooks = (await connection.QueryAsync<OutboxRow>(
                $"UPDATE webhook_outbox SET host_id = @me WHERE host_id IS NULL AND status = 'pending' RETURNING {Columns}", new { me = HostId }, transaction))
                .OrderBy(r => r.Id).Select(r => r.Delivery).ToList();
            var alerts = (await connection.QueryAsync<AlertRow>(
                "UPDATE alerts SET host_id = @me WHERE host_id IS NULL AND status = 'active' RETURNING *", new { me = HostId }, transaction)).Select(r => r.ToRecord()).ToList();
            return webhooks.Count == 0 && alerts.Count == 0 ? Takeover.None : new Takeover(0, webhooks, alerts, []);
        });
    }

    public Task LeaveAsync() => OnWriteThreadAsync((connection, transaction) =>
    {
        var host = HostId;
        connection.Execute("UPDATE webhook_outbox SET host_id = NULL WHERE host_id = @host AND status = 'pending'", new { host }, transaction);
        connection.Execute("UPDATE alerts SET host_id = NULL WHERE host_id = @host AND status = 'active'", new { host }, transaction);
        var released = connection.Execute("UPDATE calls SET host_id = NULL, claimed_at = NULL WHERE host_id = @host AND state = 'queued'", new { host }, transaction);
        connection.Execute("DELETE FROM hosts WHERE host_id = @host", new { host }, transaction);
        if (_database.NotifySql is { } notify)
        {
            connection.Execute(notify, new { channel = ClusterChannels.QueueChannel, payload = "" }, transaction);
        }
        return released;
    });

    public Task<IReadOnlyList<WebhookDelivery>?> CancelQueuedAsync(string callId, DateTimeOffset now) => OnWriteThreadAsync<IReadOnlyList<WebhookDelivery>?>((connection, transaction) =>
    {
        var row = connection.QuerySingleOrDefault<CallRow>(
            "UPDATE calls SET host_id = @host, claimed_at = @at WHERE call_id = @callId AND state = 'queued' AND host_id IS NULL RETURNING *",
            new { host = HostId, at = now.ToUnixTimeMilliseconds(), callId }, transaction);
        return row is null ? null : Apply(transaction, [new CallStateChange(
            callId, (int)row.last_sequence + 1, null, CallState.Failed, now, CallReasons.Canceled, Detail: "Hung up through the API while it waited in the queue", Simulated: row.simulated != 0)]);
    });

    /// <remarks>On a pooled connection, without waiting for the disk at commit: a notification is not data to keep.</remarks>
    public Task NotifyAsync(string channel, string payload) => _database.NotifySql is not { } notify ? Task.CompletedTask
        : SharedAsync(async (connection, transaction) =>
        {
            await connection.ExecuteAsync("SET LOCAL synchronous_commit = off", transaction: transaction);
            return await connection.ExecuteAsync(notify, new { channel, payload }, transaction);
        });

    public Task ListenAsync(IReadOnlyList<string> channels, Action<string, string> heard, CancellationToken stoppingToken) =>
        _database.ListenAsync(channels, heard, stoppingToken);

    public async Task<bool> PingAsync(TimeSpan timeout)
    {
        try
        {
            using var cancel = new CancellationTokenSource(timeout);
            await using var connection = await _database.OpenAsync().WaitAsync(cancel.Token);
            return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT 1", cancellationToken: cancel.Token)) == 1;
        }
        catch (Exception ex) when (ex is DbException or OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    private void RequireCluster()
    {
        if (!Clustered)
        {
            throw new InvalidOperationException($"{Engine} is one host's database: there is no cluster to claim from");
        }
    }

    /// <summary>An outbox row as the sender takes it.</summary>
    private sealed record OutboxRow(long Id, string Call_Id, long Sequence, string Event, string Url, string Body, long Attempts, long Created_At, long Next_Attempt_At, string? Trace_Parent)
    {
        public WebhookDelivery Delivery => new()
        {
            Id = Id, CallId = Call_Id, Sequence = Sequence, Event = Event, Url = Url, Body = Body, Attempts = Attempts, CreatedAtMs = Created_At, TraceParent = Trace_Parent,
        };
    }
}

/// <summary>The names hosts tell each other things by (PostgreSQL's LISTEN/NOTIFY).</summary>
public static class ClusterChannels
{
    /// <summary>A call was queued, or room freed: hosts try to claim.</summary>
    public const string QueueChannel = "voicebridge_queue";

    /// <summary>Hang this call up (the payload), whichever host runs it.</summary>
    public const string HangupChannel = "voicebridge_hangup";

    /// <summary>A host's state changes for the other hosts' live streams (a batch of them, as JSON).</summary>
    public const string StateChannel = "voicebridge_state";

    /// <summary>A host's live stream has clients: relay state changes for a while.</summary>
    public const string WatchChannel = "voicebridge_watch";
}
