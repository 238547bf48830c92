using Voice.Control.Calls;
using Voice.Host.Api;
using Voice.Host.Storage;

namespace Voice.Host.Cluster;

/// <summary>How this host takes part in a cluster (hosts sharing one PostgreSQL).</summary>
/// <param name="Lease">How long a host that stops renewing its lease still counts as alive; then another host closes its calls (<c>host_lost</c>) and takes over its work.</param>
internal sealed record ClusterOptions(TimeSpan Lease)
{
    /// <summary>How far ahead a claim takes calls: each waits for its start time, spaced across the cluster.</summary>
    public static readonly TimeSpan Horizon = TimeSpan.FromSeconds(1);

    /// <summary>How often the queue is looked at while calls wait in it; otherwise a host hears of new ones at once (NOTIFY).</summary>
    public static readonly TimeSpan BusyPoll = TimeSpan.FromMilliseconds(200);

    /// <summary>How often the queue is looked at when it seemed empty: the fallback for a notification lost with a connection.</summary>
    public static readonly TimeSpan IdlePoll = TimeSpan.FromSeconds(2);
}

/// <summary>
/// This host in a cluster: holds its lease, claims queued calls within the cluster's limits and starts each at its
/// time, takes over from hosts whose lease ended (their calls <c>host_lost</c>, their webhooks and alerts), adopts what
/// a stopping host handed back, and hangs up calls other hosts are asked to. Does nothing on SQLite (one host).
/// </summary>
internal sealed class ClusterMember(
    ICallStore store, CallManager calls, Webhooks.WebhookSender webhooks, Alerts.AlertChains alerts, Security.KeyRateLimits rateLimits,
    ClusterEvents events, Voice.Control.VoiceControlOptions voice, ClusterOptions options, TimeProvider time, ILogger<ClusterMember> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Lock _lock = new();

    /// <summary>Claimed calls waiting for their start time.</summary>
    private readonly Dictionary<string, ITimer> _starting = new(StringComparer.Ordinal);

    private bool _stopping;

    /// <summary>Calls waiting in the cluster's queue, as the last look found (for a POST's queue-full check).</summary>
    public long Queued { get; private set; }

    public bool Clustered => store.Clustered;

    public string HostId => store.HostId;

    /// <summary>Somebody queued a call or freed room: look at the queue now.</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // woken already
            }
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (store.Clustered)
        {
            // A call of this host's ending frees room in the cluster: look at the queue.
            calls.StateChanged += OnStateChanged;
        }
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!store.Clustered)
        {
            return;
        }
        await store.RenewLeaseAsync(time.GetUtcNow(), options.Lease);
        logger.LogInformation("Host {HostId} joined the cluster (lease {Lease} s)", store.HostId, options.Lease.TotalSeconds);
        await Task.WhenAll(ListenAsync(stoppingToken), LeaseAsync(stoppingToken), ClaimAsync(stoppingToken));
    }

    private void OnStateChanged(object? sender, CallStateChange change)
    {
        if (CallStateMachine.IsFinal(change.To))
        {
            Wake();
        }
    }

    /// <summary>
    /// Hears other hosts: new calls in the queue, hang-ups for calls of this host's, and the live stream's changes. Listens
    /// again after a lost connection.
    /// </summary>
    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await store.ListenAsync([ClusterChannels.QueueChannel, ClusterChannels.HangupChannel, ClusterChannels.StateChannel, ClusterChannels.WatchChannel],
                    Heard, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning("Lost the database's notifications ({Error}); listening again in 1 s", ex.Message);
                Wake(); // what was said meanwhile is found by looking
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private void Heard(string channel, string payload)
    {
        if (channel == ClusterChannels.QueueChannel)
        {
            Wake();
        }
        else if (channel == ClusterChannels.HangupChannel && payload.Length > 0)
        {
            _ = HangupHereAsync(payload);
        }
        else
        {
            events.Heard(channel, payload);
        }
    }

    /// <summary>
    /// Hangs up a call this host runs, as the API does: a call of an active alert stops the whole alert. False when the
    /// call is not this host's.
    /// </summary>
    public async Task<bool> HangupHereAsync(string callId)
    {
        if ((await alerts.StopAsync(callId)).Stopped)
        {
            return true;
        }
        if (calls.Get(callId) is not { } call || CallStateMachine.IsFinal(call.State))
        {
            return false;
        }
        _ = calls.HangupAsync(callId);
        return true;
    }

    /// <summary>Renews the lease a few times per lease, and takes over from hosts whose lease ended and what stopping hosts handed back.</summary>
    private async Task LeaseAsync(CancellationToken stoppingToken)
    {
        var every = options.Lease / 3;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(every, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            try
            {
                var (kept, hosts) = await store.RenewLeaseAsync(time.GetUtcNow(), options.Lease);
                rateLimits.Hosts = hosts;
                if (!kept)
                {
                    logger.LogError("Host {HostId} had lost its lease (it did not renew it in time): another host has closed its calls as host_lost", store.HostId);
                }
                Take(await store.ReapAsync(time.GetUtcNow()), "took over from");
                Take(await store.AdoptAsync(), "adopted what was handed back by stopping hosts");
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                logger.LogError("Could not renew the lease of host {HostId}: {Error}", store.HostId, ex.Message);
            }
        }
    }

    private void Take(Takeover takeover, string how)
    {
        if (takeover == Takeover.None)
        {
            return;
        }
        logger.LogWarning("Host {HostId} {How} {Hosts}: {Closed} calls closed as host_lost, {Webhooks} webhooks and {Alerts} alerts taken over",
            store.HostId, how, takeover.Hosts.Count == 0 ? "the cluster" : string.Join(", ", takeover.Hosts), takeover.Closed, takeover.Webhooks.Count, takeover.Alerts.Count);
        if (takeover.Webhooks.Count > 0)
        {
            webhooks.Enqueue(takeover.Webhooks);
        }
        if (takeover.Alerts.Count > 0)
        {
            _ = alerts.AdoptAsync(takeover.Alerts);
        }
        Wake();
    }

    /// <summary>Claims queued calls whenever woken (a NOTIFY, a call of this host's ending), and every so often.</summary>
    private async Task ClaimAsync(CancellationToken stoppingToken)
    {
        var wait = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(wait, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                var claimed = await ClaimOnceAsync();
                // Calls left waiting: look again soon (room frees as calls end, start times come round); otherwise on notice.
                wait = Queued > 0 || claimed > 0 ? ClusterOptions.BusyPoll : ClusterOptions.IdlePoll;
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                logger.LogError("Could not claim queued calls: {Error}", ex.Message);
                wait = TimeSpan.FromSeconds(1);
            }
        }
    }

    private async Task<int> ClaimOnceAsync()
    {
        int free;
        lock (_lock)
        {
            if (_stopping)
            {
                return 0;
            }
            free = voice.Calls.MaxConcurrentCalls - calls.Active.Count - _starting.Count;
        }
        var now = time.GetUtcNow();
        // Asked even without room here: the answer says how many wait, for the POSTs' queue-full check.
        var (claimed, waiting) = await store.ClaimQueuedAsync(now, new ClaimLimits(voice.Calls.MaxConcurrentCalls, voice.Calls.CallsPerSecond, free, ClusterOptions.Horizon));
        Queued = waiting;
        lock (_lock)
        {
            foreach (var (call, startAt) in claimed)
            {
                var wait = startAt - now;
                _starting[call.CallId] = time.CreateTimer(_ => Start(call), null, wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
            }
        }
        return claimed.Count;
    }

    /// <summary>A claimed call's start time has come: the library places it (its changes are this host's from now on).</summary>
    private void Start(CallRecord call)
    {
        lock (_lock)
        {
            if (!_starting.Remove(call.CallId, out var timer))
            {
                return; // handed back: the host is stopping
            }
            timer.Dispose();
        }
        try
        {
            calls.Place(OutboundCallRequest.FromStored(call), call.CallId);
        }
        catch (Exception ex) when (ex is CallRequestException or CallQueueFullException or System.Text.Json.JsonException or ObjectDisposedException)
        {
            // Accepted by the host that took the POST, and not placeable here after all: the call ends, saying why.
            logger.LogError("Call {CallId} from the cluster's queue cannot be placed: {Error}", call.CallId, ex.Message);
            _ = FailAsync(call, ex.Message);
        }
    }

    private async Task FailAsync(CallRecord call, string why)
    {
        try
        {
            var queued = await store.WriteAsync([], [new CallStateChange(call.CallId, call.LastSequence + 1, null, CallState.Failed, time.GetUtcNow(), "failed", Detail: why, Simulated: call.Simulated)], []);
            webhooks.Enqueue(queued);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or ObjectDisposedException)
        {
            logger.LogError("Could not record that call {CallId} failed: {Error}", call.CallId, ex.Message);
        }
    }

    /// <summary>Stops claiming, and hands the claimed calls not yet started back to the queue (before the library ends this host's calls).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        calls.StateChanged -= OnStateChanged;
        List<string> unstarted;
        lock (_lock)
        {
            _stopping = true;
            foreach (var timer in _starting.Values)
            {
                timer.Dispose();
            }
            unstarted = [.. _starting.Keys];
            _starting.Clear();
        }
        await base.StopAsync(cancellationToken);
        if (store.Clustered && unstarted.Count > 0)
        {
            try
            {
                await store.ReleaseClaimsAsync(unstarted);
                await store.NotifyAsync(ClusterChannels.QueueChannel, "");
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                // The database is gone too: these calls end host_lost once this host's lease has run out.
                logger.LogError("Host {HostId} could not hand {Count} claimed calls back: {Error}", store.HostId, unstarted.Count, ex.Message);
            }
        }
    }

    /// <summary>Once everything is written (the store's last act): pending webhooks and active alerts go back to the cluster, and the lease ends.</summary>
    public void Leave()
    {
        if (!store.Clustered)
        {
            return;
        }
        try
        {
            store.LeaveAsync().GetAwaiter().GetResult();
            logger.LogInformation("Host {HostId} left the cluster: its pending webhooks and alerts are the others' now", store.HostId);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or ObjectDisposedException or InvalidOperationException)
        {
            logger.LogError("Host {HostId} could not hand its work back ({Error}); another host takes it over once its lease ends", store.HostId, ex.Message);
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
