using System.Text.Json;
using Voice.Control.Calls;
using Voice.Host.Api;
using Voice.Host.Storage;

namespace Voice.Host.Alerts;

/// <summary>
/// Runs alerts: a POST with <c>retry</c> or <c>escalate</c> owns its attempts. When an attempt ends without success
/// (the digit for an alert with <c>acknowledge</c>, an answer otherwise), the same number is called again after the
/// delay while the outcome is one to retry and attempts are left, then the next number of <c>escalate</c> at once;
/// after the last, the alert is exhausted. Where each alert is lives in the store (its status and when the next
/// attempt is due; the attempts are its calls), so chains go on after a restart. A hang-up through the API of any
/// of its calls stops the whole alert.
/// </summary>
internal sealed class AlertChains(
    CallManager calls, ICallStore store, CallRecorder recorder, Voice.Control.VoiceControlOptions options, TimeProvider time,
    IHostApplicationLifetime lifetime, ILogger<AlertChains> logger) : IHostedService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The outcome of an attempt that VoiceBridge cut short, not the callee.</summary>
    private const string Interrupted = "interrupted";

    private readonly Lock _lock = new();

    /// <summary>Active alerts by the id of every one of their calls.</summary>
    private readonly Dictionary<string, Chain> _byCall = new(StringComparer.Ordinal);

    /// <summary>Where one active alert is.</summary>
    private sealed class Chain(AlertRecord alert)
    {
        public AlertRecord Alert { get; } = alert;

        /// <summary>Which of <see cref="AlertRecord.Numbers"/> is being called.</summary>
        public int NumberIndex { get; set; }

        /// <summary>Attempts made at the current number.</summary>
        public int AttemptOfNumber { get; set; }

        /// <summary>Attempts made in all.</summary>
        public int Attempt { get; set; }

        public string? CurrentCallId { get; set; }

        public ITimer? Timer { get; set; }

        public bool Ended { get; set; }

        /// <summary>Its calls so far, by which it is found while active.</summary>
        public List<string> CallIds { get; } = [];
    }

    /// <summary>Subscribes, then picks up the alerts the last run left active (before the recorder places its queued calls again).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        calls.StateChanged += OnStateChanged;
        foreach (var alert in await store.ActiveAlertsAsync())
        {
            await ResumeAsync(alert);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        calls.StateChanged -= OnStateChanged;
        lock (_lock)
        {
            foreach (var chain in _byCall.Values.Distinct())
            {
                chain.Timer?.Dispose();
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>The alert a new POST makes, for the store (written with its first call).</summary>
    public AlertRecord NewAlert(string alertId, OutboundCallRequest request, string to, string requestJson, DateTimeOffset now)
    {
        var retry = request.Retry;
        var acknowledge = request.Acknowledge is not null;
        return new AlertRecord
        {
            AlertId = alertId,
            Numbers = [to, .. (request.Escalate ?? []).Select(n => Voice.Control.Phone.PhoneNumber.Parse(n, options.Calls.Numbers).Value)],
            Attempts = retry?.Attempts ?? (retry is null ? 1 : 3),
            Delay = TimeSpan.FromSeconds(retry?.DelaySeconds ?? 60),
            RetryOn = retry?.On is { } on ? [.. on.Distinct()] : acknowledge ? ["busy", "no_answer", "not_acknowledged"] : ["busy", "no_answer"],
            Acknowledge = acknowledge,
            RequestJson = requestJson,
            CreatedAt = now,
        };
    }

    /// <summary>The first attempt is about to be placed: its end decides what comes next.</summary>
    public void Starting(AlertRecord alert, string callId)
    {
        var chain = new Chain(alert) { AttemptOfNumber = 1, Attempt = 1, CurrentCallId = callId };
        lock (_lock)
        {
            Track(chain, callId);
        }
    }

    /// <summary>The first attempt could not be placed after all: there is no alert.</summary>
    public void Abandon(string callId)
    {
        lock (_lock)
        {
            _byCall.Remove(callId);
        }
    }

    /// <summary>
    /// Stops the alert <paramref name="callId"/> belongs to, if it is active: no further attempt, and the attempt still
    /// running hangs up (in the background). Returns that attempt, or null; false when the call belongs to no active alert.
    /// </summary>
    public async Task<(bool Stopped, string? Running)> StopAsync(string callId)
    {
        Chain? chain;
        lock (_lock)
        {
            if (!_byCall.TryGetValue(callId, out chain) || chain.Ended)
            {
                return (false, null);
            }
            End(chain);
        }
        await store.UpdateAlertAsync(chain.Alert.AlertId, AlertStatus.Canceled, null, null, time.GetUtcNow());
        logger.LogInformation("Alert {AlertId} stopped through the API after {Attempts} attempts", chain.Alert.AlertId, chain.Attempt);
        var running = chain.CurrentCallId is { } current && calls.Get(current) is { } call && !CallStateMachine.IsFinal(call.State) ? current : null;
        if (running is not null)
        {
            _ = calls.HangupAsync(running);
        }
        return (true, running);
    }

    /// <summary>The id of the active alert a call belongs to (the store knows those of ended alerts).</summary>
    public string? ActiveAlertOf(string callId)
    {
        lock (_lock)
        {
            return _byCall.TryGetValue(callId, out var chain) ? chain.Alert.AlertId : null;
        }
    }

    private void OnStateChanged(object? sender, CallStateChange change)
    {
        if (!CallStateMachine.IsFinal(change.To) || lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return; // a call cut short by the host stopping is decided on after the restart, from the store
        }
        Chain? chain;
        lock (_lock)
        {
            if (!_byCall.TryGetValue(change.CallId, out chain) || chain.Ended || chain.CurrentCallId != change.CallId)
            {
                return;
            }
        }
        var (success, outcome) = Judge(chain.Alert, change.To == CallState.Completed, change.Reason, change.Results.Acknowledged);
        // Off the library's delivery loop: deciding writes to the store.
        _ = Task.Run(() => DecideAsync(chain, success, outcome));
    }

    /// <summary>Whether an attempt succeeded, and if not, its outcome as <c>retry.on</c> names it.</summary>
    private static (bool Success, string Outcome) Judge(AlertRecord alert, bool completed, string? reason, bool? acknowledged)
    {
        if (alert.Acknowledge ? acknowledged == true : completed)
        {
            return (true, alert.Acknowledge ? AlertStatus.Acknowledged : AlertStatus.Answered);
        }
        return (false, reason switch
        {
            // Cut short by VoiceBridge itself (stopping, a restart found it in progress, or its host was lost): an API hang-up stops the
            // alert before its call ends, so these never come from one. Tried again at once, not counted.
            CallReasons.Canceled or CallReasons.LocalHangup or CallStore.HostRestart or CallStore.HostLost => Interrupted,
            _ when completed => "not_acknowledged",
            CallReasons.Busy => "busy",
            CallReasons.NoAnswer => "no_answer",
            _ => "failed",
        });
    }

    private async Task DecideAsync(Chain chain, bool success, string outcome)
    {
        try
        {
            DateTimeOffset? due = null;
            string? status = null;
            string? number = null;
            lock (_lock)
            {
                if (chain.Ended)
                {
                    return;
                }
                var alert = chain.Alert;
                if (success)
                {
                    (status, number) = (outcome, alert.Numbers[chain.NumberIndex]);
                }
                else if (outcome == Interrupted)
                {
                    chain.AttemptOfNumber--;
                    due = time.GetUtcNow();
                }
                else if (alert.RetryOn.Contains(outcome) && chain.AttemptOfNumber < alert.Attempts)
                {
                    due = time.GetUtcNow() + alert.Delay;
                }
                else if (chain.NumberIndex + 1 < alert.Numbers.Count)
                {
                    chain.NumberIndex++;
                    chain.AttemptOfNumber = 0;
                    due = time.GetUtcNow();
                }
                else
                {
                    status = AlertStatus.Exhausted;
                }
                if (status is not null)
                {
                    End(chain);
                }
            }
            if (status is not null)
            {
                await store.UpdateAlertAsync(chain.Alert.AlertId, status, number, null, time.GetUtcNow());
                logger.LogInformation("Alert {AlertId} {Status} after {Attempts} attempts{By}", chain.Alert.AlertId, status, chain.Attempt, number is null ? "" : " by " + number);
                return;
            }
            await ScheduleAsync(chain, due!.Value);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Alert {AlertId}: deciding on the next attempt failed; it goes on after the next restart", chain.Alert.AlertId);
        }
    }

    /// <summary>The chain is found by <paramref name="callId"/> from now on; under the lock.</summary>
    private void Track(Chain chain, string callId)
    {
        chain.CallIds.Add(callId);
        _byCall[callId] = chain;
    }

    /// <summary>No more attempts, and the chain is forgotten (the store has the rest); under the lock.</summary>
    private void End(Chain chain)
    {
        chain.Ended = true;
        chain.Timer?.Dispose();
        chain.Timer = null;
        foreach (var callId in chain.CallIds)
        {
            _byCall.Remove(callId);
        }
    }

    /// <summary>Writes when the next attempt is due, then waits for it (at once when it is due already).</summary>
    private async Task ScheduleAsync(Chain chain, DateTimeOffset due)
    {
        await store.UpdateAlertAsync(chain.Alert.AlertId, AlertStatus.Active, null, due, null);
        var wait = due - time.GetUtcNow();
        lock (_lock)
        {
            if (chain.Ended)
            {
                return;
            }
            chain.Timer?.Dispose();
            chain.Timer = time.CreateTimer(_ => _ = Task.Run(() => PlaceNextAsync(chain)), null, wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task PlaceNextAsync(Chain chain)
    {
        string callId;
        CallRecord record;
        CallRequest callRequest;
        lock (_lock)
        {
            if (chain.Ended || lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return;
            }
            var alert = chain.Alert;
            chain.AttemptOfNumber++;
            chain.Attempt++;
            var request = JsonSerializer.Deserialize<OutboundCallRequest>(alert.RequestJson, Json)!;
            request.To = alert.Numbers[chain.NumberIndex];
            request.Retry = null;
            request.Escalate = null;
            callRequest = request.ToCallRequest();
            callId = CallIds.New();
            record = request.ToRecord(callId, request.To, callRequest, JsonSerializer.Serialize(request, Json), calls.IsSimulated, time.GetUtcNow()) with
            {
                AlertId = alert.AlertId,
                Attempt = chain.Attempt,
            };
            chain.CurrentCallId = callId;
            chain.Timer?.Dispose();
            chain.Timer = null;
            Track(chain, callId);
        }
        if (!recorder.Accept(new NewCall(record)))
        {
            return; // stopping: the alert stays due in the store, and the next start places it
        }
        try
        {
            await store.UpdateAlertAsync(chain.Alert.AlertId, AlertStatus.Active, null, null, null);
            calls.Place(callRequest, callId);
            logger.LogInformation("Alert {AlertId}: attempt {Attempt} calls {Number}", chain.Alert.AlertId, chain.Attempt, record.To);
        }
        catch (CallQueueFullException)
        {
            await recorder.WithdrawAsync(callId);
            lock (_lock)
            {
                chain.AttemptOfNumber--;
                chain.Attempt--;
            }
            await ScheduleAsync(chain, time.GetUtcNow() + TimeSpan.FromSeconds(5));
        }
        catch (CallRequestException ex)
        {
            // The number cannot be called (the policy changed since the POST): an attempt that failed.
            logger.LogWarning("Alert {AlertId}: {Number} cannot be called: {Reason}", chain.Alert.AlertId, record.To, ex.Message);
            await recorder.WithdrawAsync(callId);
            await DecideAsync(chain, false, "failed");
        }
    }

    /// <summary>Alerts this host took over in a cluster (from a host that was lost, or handed back by one that stopped): they go on here.</summary>
    public async Task AdoptAsync(IReadOnlyList<AlertRecord> adopted)
    {
        foreach (var alert in adopted)
        {
            lock (_lock)
            {
                if (_byCall.ContainsKey(alert.AlertId))
                {
                    continue; // already running here
                }
            }
            try
            {
                await ResumeAsync(alert);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Alert {AlertId} could not be taken over", alert.AlertId);
            }
        }
    }

    /// <summary>After a restart: where the alert had got to, from its attempts in the store, and on from there.</summary>
    private async Task ResumeAsync(AlertRecord alert)
    {
        var attempts = await store.AttemptsAsync(alert.AlertId);
        var chain = new Chain(alert) { Attempt = attempts.Count };
        foreach (var attempt in attempts)
        {
            while (chain.NumberIndex < alert.Numbers.Count - 1 && alert.Numbers[chain.NumberIndex] != attempt.To)
            {
                chain.NumberIndex++;
                chain.AttemptOfNumber = 0;
            }
            chain.AttemptOfNumber++;
        }
        lock (_lock)
        {
            foreach (var attempt in attempts)
            {
                Track(chain, attempt.CallId);
            }
        }
        var last = attempts.Count > 0 ? attempts[^1] : null;
        chain.CurrentCallId = last?.CallId;
        if (alert.NextAttemptAt is { } due)
        {
            await ScheduleAsync(chain, due);
        }
        else if (last is not null && last.State is "completed" or "failed")
        {
            var acknowledged = last.ResultsJson is { } results && JsonSerializer.Deserialize<JsonElement>(results).TryGetProperty("acknowledged", out var value) && value.GetBoolean();
            var (success, outcome) = Judge(alert, last.State == "completed", last.Reason, acknowledged);
            await DecideAsync(chain, success, outcome);
        }
        // Otherwise its attempt is queued: the recorder places it again, and its end decides.
        logger.LogInformation("Alert {AlertId} goes on after the restart (attempt {Attempt})", alert.AlertId, chain.Attempt);
    }
}
