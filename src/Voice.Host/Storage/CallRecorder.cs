using System.Text.Json;
using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>
/// Writes every new call and every state change to the store, in order, in batches (one transaction per batch,
/// with the webhooks they queue), hands the queued webhooks to the sender, re-places the calls that were still queued when the
/// host last stopped, keeps the database's log short, and purges history past the retention.
/// </summary>
/// <remarks>
/// The API hands new calls to <see cref="Accept"/> and answers at once: a POST never waits for the disk, whose
/// writes stall now and then for hundreds of milliseconds. A call is written with the batch after it (within
/// <see cref="BatchWindow"/>), always before its first state change, which comes through the same queue.
/// </remarks>
internal sealed class CallRecorder(
    IOutboundCalls calls, ICallStore store, StorageOptions options, Action<IReadOnlyList<WebhookDelivery>> webhooks, TimeProvider time, ILogger<CallRecorder> logger,
    Func<CallRecord, CallSnapshot>? placeAgain = null)
    : BackgroundService
{
    /// <summary>
    /// Writes per transaction: batching saves commits, and the write lock is held for the whole batch, so
    /// batches stay short (a few milliseconds).
    /// </summary>
    public const int MaxBatch = 32;

    /// <summary>
    /// How long the writer waits after the first write of a batch for others to join it (group commit), unless
    /// someone waits for the write. A call's half-dozen changes a few seconds apart, at ten calls a second, then
    /// share commits and log pages: on the lab's real servers that saved a seventh of the host's CPU per call.
    /// Webhooks go out this much later, which nobody notices. (100 ms saved another 0.15 ms of CPU per call on the
    /// lab's real servers, but held every webhook up to 70 ms longer: not worth it.)
    /// </summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(30);

    private readonly Lock _lock = new();
    private readonly List<Pending> _queue = [];

    /// <summary>A write of the queue is posted to the store's write thread and has not taken the queue yet.</summary>
    private bool _posted;

    private bool _closed;

    /// <summary>Completes once the last writes are done, after <see cref="StopAsync"/>.</summary>
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Calls found queued at start-up, placed again once the recorder listens.</summary>
    public IReadOnlyList<CallRecord> Requeue { get; set; } = [];

    /// <summary>
    /// Queues a new call for writing; call it before the call is placed, so the call is written before its
    /// state changes. False once the host is stopping and nothing more is written.
    /// </summary>
    public bool Accept(NewCall call) => Queue(new Pending(call, null, null, null));

    /// <summary>Removes an accepted call that could not be placed; completes once that is written (or failed, and was logged).</summary>
    public async Task WithdrawAsync(string callId)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (QueueWaited(new Pending(null, null, callId, written)))
        {
            await written.Task;
            return;
        }
        // Stopping: the call's insert may still be queued, so the delete goes after the last batch.
        await _drained.Task;
        await store.DeleteAsync(callId);
    }

    /// <summary>
    /// Completes once everything queued before it is written, so a read of the history that follows a POST
    /// finds the call.
    /// </summary>
    public Task WrittenAsync()
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return QueueWaited(new Pending(null, null, null, written)) ? written.Task : Task.CompletedTask;
    }

    /// <summary>
    /// Subscribes before anything else runs, so no change is missed: here, not in <see cref="ExecuteAsync"/>, which
    /// may run on the thread pool while start-up goes on (a test raced it). The handler runs on the library's delivery loop and only
    /// queues the change. <see cref="StopAsync"/> ends the queue, once the calls have ended (the library stops first).
    /// </summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        calls.StateChanged += OnStateChanged;
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var call in Requeue)
        {
            PlaceAgain(call);
        }
        var purge = PurgeLoopAsync(stoppingToken);
        var maintenance = store.MaintainAsync(ex => logger.LogError(ex, "Could not maintain the {Engine} database", store.Engine), stoppingToken);
        await _drained.Task;
        await purge;
        await maintenance;
    }

    /// <summary>
    /// Queues a write. The first of a batch posts the batch's write to the store's write thread, which waits
    /// <see cref="BatchWindow"/> for more to join it (group commit) before it takes the queue: several writes then
    /// share one commit, which saves the pages each commit writes again (the calls' indexes).
    /// </summary>
    private bool Queue(Pending pending)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }
            _queue.Add(pending);
            if (_posted)
            {
                return true;
            }
            _posted = true;
        }
        return PostWrite();
    }

    /// <summary>Posts the write of the queue to the write thread, after <see cref="BatchWindow"/>; false, and the queue given up, once the store is closed.</summary>
    private bool PostWrite()
    {
        if (store.Later(WriteQueued, BatchWindow))
        {
            return true;
        }
        // The store is closed: nothing more can be written, and whoever waits must not wait for good.
        List<Pending> lost;
        lock (_lock)
        {
            _closed = true;
            lost = [.. _queue];
            _queue.Clear();
        }
        logger.LogError("The store is closed: {Count} writes were not made", lost.Count);
        foreach (var item in lost)
        {
            item.Written?.TrySetResult();
        }
        _drained.TrySetResult();
        return false;
    }

    /// <summary>Queues a write someone waits for, and ends the write thread's window (after the write is queued, so the batch holds it).</summary>
    private bool QueueWaited(Pending pending)
    {
        if (!Queue(pending))
        {
            return false;
        }
        store.Hurry();
        return true;
    }

    /// <summary>
    /// A write failed and is being tried again (the database is down, or the disk): new calls are refused meanwhile
    /// (503) rather than accepted into memory only.
    /// </summary>
    public bool Failing => Volatile.Read(ref _failing);

    private bool _failing;

    /// <summary>Attempts at a batch once the host is stopping: after these, its writes are given up (and logged).</summary>
    private const int AttemptsWhenStopping = 3;

    /// <summary>The wait before another attempt at a batch that failed: 0.5 s, then doubling up to 5 s.</summary>
    internal static TimeSpan RetryDelay(int failures) => TimeSpan.FromMilliseconds(Math.Min(5000, 500 * Math.Pow(2, failures - 1)));

    /// <summary>
    /// On the write thread: writes the queue, a batch of at most <see cref="MaxBatch"/> at a time. Writes queued while a
    /// batch was being written wait a window of their own unless they make a full batch (or the host is stopping): written
    /// at once, they took a commit of their own a few milliseconds after the batch's, and rewrote the same index pages
    /// (on the lab's real servers, about half the commits).
    /// </summary>
    private void WriteQueued()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_lock)
            {
                if (_queue.Count == 0)
                {
                    _posted = false;
                    return;
                }
                var count = Math.Min(_queue.Count, MaxBatch);
                batch = _queue.GetRange(0, count);
                _queue.RemoveRange(0, count);
            }
            WriteUntilDone(batch);
            bool later;
            lock (_lock)
            {
                later = _queue.Count is > 0 and < MaxBatch && !_closed;
            }
            if (later)
            {
                PostWrite();
                return;
            }
        }
    }

    /// <summary>
    /// Writes a batch, trying again until it is written: an accepted call is never dropped for a database that is down
    /// for a while. The write thread waits meanwhile (nothing else could be written either). Whoever waits for the batch
    /// goes on after the first attempt, so no request hangs on the outage.
    /// </summary>
    private void WriteUntilDone(List<Pending> batch)
    {
        var failures = 0;
        while (!Write(batch, notify: failures == 0))
        {
            failures++;
            Volatile.Write(ref _failing, true);
            bool closed;
            lock (_lock)
            {
                closed = _closed;
            }
            if (closed && failures >= AttemptsWhenStopping)
            {
                logger.LogError("The host is stopping and the database still refuses writes: {Count} writes are lost", batch.Count);
                break;
            }
            Thread.Sleep(RetryDelay(failures));
        }
        if (failures > 0 && Volatile.Read(ref _failing))
        {
            Volatile.Write(ref _failing, false);
            logger.LogInformation("The database takes writes again after {Failures} failed attempts", failures);
        }
    }

    /// <summary>One attempt at a batch; false when the database refused it.</summary>
    private bool Write(List<Pending> batch, bool notify)
    {
        List<NewCall> accepted = [];
        List<CallStateChange> changes = [];
        List<string> withdrawn = [];
        foreach (var item in batch)
        {
            if (item.Call is { } call)
            {
                accepted.Add(call);
            }
            else if (item.Change is { } change)
            {
                changes.Add(change);
            }
            else if (item.Withdrawn is { } callId)
            {
                withdrawn.Add(callId);
            }
        }
        var written = true;
        try
        {
            if (store.WriteHere(accepted, changes, withdrawn) is { Count: > 0 } queued)
            {
                webhooks(queued);
            }
        }
        catch (Exception ex) when (store.IsTransient(ex))
        {
            // The database is down or busy: the batch is tried again. (Nothing may escape the write thread.)
            logger.LogError(ex, "Could not write {Calls} new calls, {Changes} state changes and {Withdrawn} withdrawals; trying again",
                accepted.Count, changes.Count, withdrawn.Count);
            written = false;
        }
        catch (Exception ex)
        {
            // The data refused, or not the database at all: trying again would fail the same way, and hold up every write after it.
            logger.LogError(ex, "Could not write {Calls} new calls, {Changes} state changes and {Withdrawn} withdrawals",
                accepted.Count, changes.Count, withdrawn.Count);
        }
        // Whoever waits (a refused POST, a history read) goes on either way: the failure is logged, not theirs.
        if (notify || written)
        {
            foreach (var item in batch)
            {
                item.Written?.TrySetResult();
            }
        }
        return written;
    }

    private void OnStateChanged(object? sender, CallStateChange change) => Queue(new Pending(null, change, null, null));

    /// <summary>Runs after the library has stopped (the recorder is registered first): every change is queued by then.</summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        calls.StateChanged -= OnStateChanged;
        lock (_lock)
        {
            _closed = true;
        }
        // Behind any batch already posted, whose window ends now: the writes still queued, then the end.
        if (store.Later(() =>
        {
            WriteQueued();
            _drained.TrySetResult();
        }, TimeSpan.Zero))
        {
            store.Hurry();
        }
        else
        {
            _drained.TrySetResult();
        }
        return base.StopAsync(cancellationToken);
    }

    private void PlaceAgain(CallRecord call)
    {
        try
        {
            (placeAgain ?? throw new InvalidOperationException("this recorder cannot place calls again"))(call);
            logger.LogInformation("Call {CallId} was queued when the host stopped; queued again", call.CallId);
        }
        catch (Exception ex) when (ex is JsonException or CallRequestException or CallQueueFullException)
        {
            logger.LogError("Call {CallId} was queued when the host stopped and cannot be queued again: {Error}", call.CallId, ex.Message);
        }
    }

    /// <summary>Deletes the calls past the retention, and their recordings.</summary>
    public async Task PurgeAsync()
    {
        var cutoff = time.GetUtcNow() - options.Retention;
        var purged = await store.PurgeAsync(cutoff);
        if (purged.Count > 0)
        {
            logger.LogInformation("Deleted {Count} calls older than the retention of {Days} days", purged.Count, options.Retention.TotalDays);
        }
        if (options.RecordingDirectory is { } directory)
        {
            // A file no stored call knows (an upload for a call never stored) goes a day after the calls of its time.
            var deleted = await RecordingFiles.DeleteAsync(directory, purged, cutoff - TimeSpan.FromDays(1), async id => await store.GetAsync(id) is not null);
            if (deleted > 0)
            {
                logger.LogInformation("Deleted {Count} recordings of calls past the retention", deleted);
            }
        }
    }

    private async Task PurgeLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await PurgeAsync();
                await Task.Delay(TimeSpan.FromHours(1), time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

/// <summary>
/// One write for the recorder: a new call, a state change, or a call withdrawn; <see cref="Written"/>, when set,
/// completes once the batch holding it is written (alone, it only waits for the writes before it).
/// </summary>
internal readonly record struct Pending(NewCall? Call, CallStateChange? Change, string? Withdrawn, TaskCompletionSource? Written);
