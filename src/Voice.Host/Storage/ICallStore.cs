using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>
/// Where the host keeps its calls: one interface, with SQLite (one host, the embedded default) and PostgreSQL
/// (several hosts sharing one database) under it (<see cref="CallStore"/> over a <see cref="StoreDatabase"/>). It is
/// made of one interface per concern; the parts of the host that need one concern only take that one.
/// </summary>
public interface ICallStore : ICallHistory, IWebhookOutbox, IIdempotencyKeys, IAlertStore, IAgentStore, IClusterStore, ISessionStore, IDisposable
{
    /// <summary>The database under the store: <c>sqlite</c> or <c>postgresql</c>.</summary>
    string Engine { get; }

    /// <summary>Creates or upgrades the schema (versioned migrations, safe when several hosts start at once).</summary>
    Task InitializeAsync();

    /// <summary>
    /// Whether this process holds the call in memory (it accepted the call, which has not long ended); if so,
    /// <paramref name="alertId"/> is the alert that placed it, or null. False: ask the database.
    /// </summary>
    bool TryGetHeldAlert(string callId, out string? alertId);

    /// <summary>What the database does in the background while the host runs (SQLite: checkpoints), until <paramref name="stoppingToken"/>; <paramref name="failed"/> hears of what went wrong.</summary>
    Task MaintainAsync(Action<Exception> failed, CancellationToken stoppingToken);

    /// <summary>Whether a write that failed with <paramref name="error"/> may succeed if tried again (see <see cref="StoreDatabase.IsTransient"/>).</summary>
    bool IsTransient(Exception error);

    /// <summary>Stores a new call, with its idempotency key when it has one.</summary>
    Task InsertAsync(CallRecord call, string? idempotencyKey = null, string? requestHash = null);

    /// <summary>Removes a call that could not be placed after all (the queue was full), with its idempotency key.</summary>
    Task DeleteAsync(string callId);

    /// <summary>Records state changes in one transaction (see <see cref="WriteAsync"/>); returns how many webhooks were queued.</summary>
    Task<int> RecordAsync(IReadOnlyList<CallStateChange> changes);

    /// <summary>
    /// One transaction, in this order: new calls (with their idempotency keys), state changes (each call's row moves
    /// on, never backwards; one history row per change; one outbox row per webhook the call asked for), then calls
    /// withdrawn because they could not be placed. Returns the webhooks it queued, for the sender.
    /// </summary>
    Task<IReadOnlyList<WebhookDelivery>> WriteAsync(IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn);

    /// <summary>
    /// Runs <paramref name="job"/> on the store's write thread after a window of up to <paramref name="window"/> for
    /// more writes to arrive (the recorder's group commit); <see cref="Hurry"/> ends the window. False once the store is closed.
    /// </summary>
    bool Later(Action job, TimeSpan window);

    /// <summary>Ends the write thread's window now: someone waits for what it would write.</summary>
    void Hurry();

    /// <summary><see cref="WriteAsync"/> from a job already on the write thread (see <see cref="Later"/>).</summary>
    IReadOnlyList<WebhookDelivery> WriteHere(IReadOnlyList<NewCall> calls, IReadOnlyList<CallStateChange> changes, IReadOnlyList<string> withdrawn);

    /// <summary>
    /// After a restart: calls that were in progress end as failed with <c>host_restart</c> (their SIP legs died
    /// with the process); calls still queued are returned so they can be placed again.
    /// </summary>
    Task<(int Closed, IReadOnlyList<CallRecord> Queued)> RecoverAsync(DateTimeOffset now);

    /// <summary>Deletes ended calls older than <paramref name="before"/>, with their history and webhooks (daily counts are kept); returns their ids.</summary>
    Task<IReadOnlyList<string>> PurgeAsync(DateTimeOffset before);
}

/// <summary>Calls as stored, their history and the counters made of them.</summary>
public interface ICallHistory
{
    Task<CallRecord?> GetAsync(string callId);

    /// <summary>The state history of a call, in order.</summary>
    Task<IReadOnlyList<(int Sequence, string State, string? Reason, DateTimeOffset At)>> HistoryAsync(string callId);

    /// <summary>Calls not yet ended, oldest first (in a cluster, every host's).</summary>
    Task<IReadOnlyList<CallRecord>> ActiveAsync();

    /// <summary>Calls newest first, filtered, one page at a time.</summary>
    /// <exception cref="FormatException">The cursor is not one this store made.</exception>
    Task<CallPage> QueryAsync(CallQuery query);

    /// <summary>Calls per caller ID and per destination since each of the four period starts; the default caller ID counts under <paramref name="defaultCallerId"/>.</summary>
    Task<CallCounts> CountAsync(DateTimeOffset today, DateTimeOffset week, DateTimeOffset month, DateTimeOffset year, string? defaultCallerId);

    /// <summary>Calls per day for the <paramref name="days"/> days up to today at <paramref name="offset"/>, oldest first; days without calls count 0.</summary>
    Task<IReadOnlyList<(DateOnly Day, int Calls)>> CallsPerDayAsync(DateTimeOffset now, int days, TimeSpan offset);
}

/// <summary>The webhook outbox: what waits to be delivered, and how each attempt went.</summary>
public interface IWebhookOutbox
{
    /// <summary>Pending webhooks, oldest first (so each call's in sequence), at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<(WebhookDelivery Delivery, DateTimeOffset NextAttemptAt)>> PendingWebhooksAsync(int limit);

    /// <summary>
    /// Queues how a delivery attempt went; it is written with the next transaction, or in one of its own once it has
    /// waited a quarter of a second for one.
    /// </summary>
    void QueueAttempt(string callId, WebhookAttempt attempt);

    /// <summary>Raised when a write of queued attempts failed; they stay queued, for the next transaction or the next try.</summary>
    event Action<Exception>? AttemptsNotWritten;

    /// <summary>Writes the queued attempts, if any are still waiting.</summary>
    Task FlushAttemptsAsync();

    /// <summary>The webhooks of one call, in order, with how their delivery went.</summary>
    Task<IReadOnlyList<WebhookState>> WebhooksAsync(string callId);
}

/// <summary>Idempotency keys: a POST retried with its key gets the call the first one made.</summary>
public interface IIdempotencyKeys
{
    /// <summary>
    /// Reserves a key for a call about to be accepted; returns the call and request hash that hold it instead when it
    /// was used before. Concurrent requests with one key agree on a single call.
    /// </summary>
    Task<(string CallId, string? RequestHash)?> ReserveKeyAsync(string key, string callId, string? requestHash);

    /// <summary>Frees a key reserved for a call that was never accepted.</summary>
    void ReleaseKey(string key, string callId);
}

/// <summary>Alerts (retries and escalation) and their attempts.</summary>
public interface IAlertStore
{
    /// <summary>Writes where an alert is: its status, who it ended with, when its next attempt is due.</summary>
    Task UpdateAlertAsync(string alertId, string status, string? outcomeNumber, DateTimeOffset? nextAttemptAt, DateTimeOffset? endedAt);

    Task<AlertRecord?> AlertAsync(string alertId);

    /// <summary>The alerts still active (after a restart: the chains to go on with).</summary>
    Task<IReadOnlyList<AlertRecord>> ActiveAlertsAsync();

    /// <summary>An alert's attempts, in order.</summary>
    Task<IReadOnlyList<CallRecord>> AttemptsAsync(string alertId);
}

/// <summary>Click-to-call's agents.</summary>
public interface IAgentStore
{
    /// <summary>Stores the agent unless it is known; a name given later fills one that was missing.</summary>
    Task EnsureAgentAsync(string extension, string? name, DateTimeOffset now);

    Task<IReadOnlyList<AgentRecord>> AgentsAsync();

    /// <summary>Click-to-call calls per agent since <paramref name="since"/>: all of them, and those that reached the destination.</summary>
    Task<IReadOnlyDictionary<string, (int Calls, int Connected)>> AgentCallsSinceAsync(DateTimeOffset since);

    /// <summary>The newest click-to-call of each agent that has not ended, as stored.</summary>
    Task<IReadOnlyDictionary<string, string>> OpenAgentCallsAsync();
}
