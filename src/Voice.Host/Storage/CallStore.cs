using System.Data.Common;
using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>
/// The store over either database (<see cref="SqliteDatabase"/>, <see cref="PostgresDatabase"/>): calls and their
/// history, the webhook outbox, idempotency keys, recovery and retention, alerts and agents, each concern in a file of
/// its own. Every state change is one transaction: the call's row, its history row and, when the call has a webhook
/// for that state, its outbox row, so an event is never recorded without its webhook or the other way round. Writes
/// run one after another on a thread of the store's own (<see cref="WriteThread"/>) with the engine's synchronous
/// calls; reads run on the caller's thread.
/// </summary>
public sealed partial class CallStore : ICallStore
{
    /// <summary>The reason of calls that were in progress when the host stopped.</summary>
    public const string HostRestart = "host_restart";

    private readonly StoreDatabase _database;
    private readonly Func<OutboxEvent, string> _webhookBody;
    private readonly WriteThread _thread;
    private readonly TimeProvider _clock;

    /// <param name="database">The engine; the store disposes of it.</param>
    /// <param name="webhookBody">Builds the body of a state change's webhook (the webhooks' payload).</param>
    /// <param name="time">The clock of the write thread's windows (see <see cref="Later"/>) and of the webhook attempts' writes (see
    /// <see cref="QueueAttempt"/>); the system's by default.</param>
    /// <param name="hostId">This host's name in a cluster (<see cref="HostId"/>).</param>
    public CallStore(StoreDatabase database, Func<OutboxEvent, string> webhookBody, TimeProvider? time = null, string? hostId = null)
    {
        _database = database;
        _webhookBody = webhookBody;
        HostId = hostId ?? DefaultHostId();
        _clock = time ?? TimeProvider.System;
        _thread = new WriteThread(database.Engine + " writer", _clock);
        _held = new HeldWebhooks(_clock);
    }

    public StoreDatabase Database => _database;

    /// <summary>
    /// This host's name: the owner it writes on the calls it runs, their webhooks and their alerts. In a cluster each host
    /// needs its own (<c>HOST_ID</c>); by default the machine's name and a random part, new at every start.
    /// </summary>
    public string HostId { get; }

    /// <summary>Several hosts may share the database (PostgreSQL): calls are claimed, and each host writes only the calls it owns.</summary>
    public bool Clustered => _database.Shared;

    private static string DefaultHostId() => $"{Environment.MachineName}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";

    public string Engine => _database.Engine;

    public Task InitializeAsync() => _database.MigrateAsync();

    public bool IsTransient(Exception error) => _database.IsTransient(error);

    public Task MaintainAsync(Action<Exception> failed, CancellationToken stoppingToken) => _database.MaintainAsync(failed, stoppingToken);

    public Task InsertAsync(CallRecord call, string? idempotencyKey = null, string? requestHash = null) =>
        WriteAsync([new NewCall(call, idempotencyKey, requestHash)], [], []);

    public Task DeleteAsync(string callId) => WriteAsync([], [], [callId]);

    public async Task<int> RecordAsync(IReadOnlyList<CallStateChange> changes) => (await WriteAsync([], changes, [])).Count;

    public Task<IReadOnlyList<WebhookDelivery>> WriteAsync(IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn) =>
        _thread.RunAsync(() => WriteHere(calls, changes, withdrawn));

    public bool Later(Action job, TimeSpan window) => _thread.Post(job, window);

    public void Hurry() => _thread.Hurry();

    public IReadOnlyList<WebhookDelivery> WriteHere(IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn)
    {
        if (!_thread.IsCurrent)
        {
            throw new InvalidOperationException("WriteHere runs on the store's write thread only");
        }
        try
        {
            return _database.Locked(connection => WriteCore(connection, calls, changes, withdrawn));
        }
        finally
        {
            ReleaseKeys(calls);
        }
    }

    private List<WebhookDelivery> WriteCore(DbConnection connection, IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn)
    {
        using var transaction = connection.BeginTransaction();
        foreach (var call in calls)
        {
            InsertRow(transaction, call);
        }
        List<WebhookDelivery> queued = changes.Count == 0 ? [] : Apply(transaction, changes);
        if (TakeAttempts() is { } attempts)
        {
            UpdateAttempts(transaction, attempts);
        }
        foreach (var callId in withdrawn)
        {
            Withdraw(transaction, callId);
        }
        if (_database.NotifySql is { } notify && calls.Any(c => c.Queued))
        {
            // Calls for any host to claim: every host hears of them as this commits.
            Bind(Command(transaction, notify), ("@channel", ClusterChannels.QueueChannel), ("@payload", ""));
            Command(transaction, notify).ExecuteNonQuery();
        }
        transaction.Commit();
        _database.Committed();
        Hold(calls, queued, changes, withdrawn);
        return queued;
    }

    /// <summary>A transaction of its own on the write thread (the write lock held), for writes outside the recorder's batches.</summary>
    private Task<T> OnWriteThreadAsync<T>(Func<DbConnection, DbTransaction, T> write) => _thread.RunAsync(() => _database.Locked(connection =>
    {
        using var transaction = connection.BeginTransaction();
        var result = write(connection, transaction);
        transaction.Commit();
        _database.Committed();
        return result;
    }));

    private DbCommand Command(DbTransaction transaction, string sql) => _database.Command(transaction, sql);

    private static void Bind(DbCommand command, params (string Name, object? Value)[] values) => StoreDatabase.Bind(command, values);

    /// <summary>Runs the writes already queued, then closes the database.</summary>
    public void Dispose()
    {
        _thread.Dispose();
        _database.Dispose();
    }
}

/// <summary>A call accepted by the API, to be stored with its idempotency key and the hash of its request (and, for an alert's first attempt, the alert).</summary>
public sealed record NewCall(CallRecord Call, string? IdempotencyKey = null, string? RequestHash = null)
{
    public AlertRecord? Alert { get; init; }

    /// <summary>For any host of a cluster to claim (written without an owner); otherwise this host runs it.</summary>
    public bool Queued { get; init; }
}
