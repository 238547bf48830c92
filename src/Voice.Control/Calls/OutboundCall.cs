using Microsoft.Extensions.Logging;
using Voice.Control.Diagnostics;
using Voice.Control.Phone;
using Voice.Control.Scripts;
using Voice.Control.Tts;

namespace Voice.Control.Calls;

/// <summary>
/// One outbound call from queue to end: the media endpoint first (its SDP is the INVITE's offer), the script's speech
/// rendered while the phone rings, the INVITE with its ring timeout, the script run on answer, and on every
/// way out — answered or not, failed or hung up — the dialog hung up and the endpoint destroyed.
/// </summary>
internal sealed class OutboundCall : IScriptCall
{
    private readonly CallManager _manager;
    private readonly CallOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<CallStateChange> _published = new(6);

    /// <summary>The call's span, from when it was placed to its end: a child of whatever placed it (the REST request).</summary>
    private readonly System.Diagnostics.Activity? _trace;
    private int _traceEnded;

    /// <summary>The call's span, for the changes it publishes (default when nothing listens).</summary>
    private System.Diagnostics.ActivityContext TraceContext => _trace?.Context ?? default;
    private readonly CancellationTokenSource _hangup = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CallState _state = CallState.Queued;
    private string? _reason;
    private int? _sipStatus;
    private string? _detail;
    private string? _provider;
    private DateTimeOffset? _answeredAt;
    private DateTimeOffset? _endedAt;
    private int _sequence;
    private string? _tag;
    private CallResults _results = CallResults.None;

    /// <summary>The message, or what the script says, as snapshots show it.</summary>
    private readonly string _message;

    public OutboundCall(CallManager manager, string id, CallRequest request, PhoneNumber number, string dialUri, CallOptions options, TimeProvider time, ILogger logger)
    {
        _manager = manager;
        Id = id;
        Request = request;
        Number = number;
        DialUri = dialUri;
        _options = options;
        _time = time;
        _logger = logger;
        CreatedAt = time.GetUtcNow();
        _tag = request.Tag;
        Script = request.Script ?? (request.Acknowledge is { } acknowledge
            ? CallScript.Acknowledge(request.Message!, acknowledge, request.Voice, request.Repeat)
            : CallScript.Say(request.Message!, request.Voice, request.Repeat));
        _message = request.Message ?? Script.Summary;
        _trace = StartTrace();
    }

    /// <summary>What the call runs once answered: the request's script, or the one its message stands for.</summary>
    public CallScript Script { get; }

    public string Id { get; }

    public CallRequest Request { get; }

    public PhoneNumber Number { get; }

    public string DialUri { get; }

    public DateTimeOffset CreatedAt { get; }

    public bool IsFinal
    {
        get
        {
            lock (_lock)
            {
                return CallStateMachine.IsFinal(_state);
            }
        }
    }

    public DateTimeOffset? EndedAt
    {
        get
        {
            lock (_lock)
            {
                return _endedAt;
            }
        }
    }

    /// <summary>Completes when the call has ended, however it ended.</summary>
    public Task Ended => _ended.Task;

    public CallSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new CallSnapshot
            {
                CallId = Id,
                To = Number.Value,
                DialUri = DialUri,
                State = _state,
                Reason = _reason,
                SipStatus = _sipStatus,
                Detail = _detail,
                Message = _message,
                CallerId = Request.CallerId ?? _options.DefaultCallerId,
                Repeat = Request.Repeat,
                Tag = _tag,
                Results = _results,
                CreatedAt = CreatedAt,
                AnsweredAt = _answeredAt,
                EndedAt = _endedAt,
                Simulated = _manager.IsSimulated,
                SpeechProvider = _provider,
            };
        }
    }

    /// <summary>Every change of this call so far, in order (a watcher that starts late reads these first).</summary>
    public IReadOnlyList<CallStateChange> ChangesSoFar()
    {
        lock (_lock)
        {
            return [.. _published];
        }
    }

    /// <summary>Under the call's lock: kept for late watchers, then handed to the manager's delivery in order.</summary>
    private void Publish(CallStateChange change)
    {
        _manager.Meter.Count(change);
        // The states on the call's timeline: when it rang, when it was answered.
        _trace?.AddEvent(new System.Diagnostics.ActivityEvent(CallStateMachine.Name(change.To), change.At));
        _published.Add(change);
        _manager.Publish(change);
    }

    /// <summary>The first change: queued.</summary>
    public void Announce()
    {
        lock (_lock)
        {
            Publish(new CallStateChange(Id, ++_sequence, null, CallState.Queued, CreatedAt, Tag: _tag, Simulated: _manager.IsSimulated) { Trace = TraceContext });
        }
    }

    /// <summary>
    /// Hang up through the API: a queued call fails at once as canceled; a running one is cancelled (CANCEL
    /// before answer, BYE after). Completes when the call has ended.
    /// </summary>
    public Task HangupAsync()
    {
        lock (_lock)
        {
            if (_state == CallState.Queued)
            {
                TryMove(CallState.Failed, CallReasons.Canceled, detail: "hung up through the API before it was dialled");
                return _ended.Task;
            }
        }
        _hangup.Cancel();
        return _ended.Task;
    }

    /// <summary>Moves the call when the table allows it; publishes the change in order. False when it does not.</summary>
    private bool TryMove(CallState to, string? reason = null, int? sipStatus = null, string? detail = null)
    {
        lock (_lock)
        {
            if (!CallStateMachine.CanMove(_state, to, reason))
            {
                return false;
            }
            var now = _time.GetUtcNow();
            var from = _state;
            _state = to;
            _reason = reason ?? _reason;
            _sipStatus = sipStatus ?? _sipStatus;
            _detail = detail ?? _detail;
            if (to == CallState.Playing)
            {
                _answeredAt = now;
            }
            if (CallStateMachine.IsFinal(to))
            {
                _endedAt = now;
                if (Request.Acknowledge is not null && _results.Acknowledged is null)
                {
                    // Ended before the callee pressed the digit (hung up, failed, never answered): not acknowledged.
                    _results = _results with { Acknowledged = false };
                }
            }
            Publish(new CallStateChange(Id, ++_sequence, from, to, now, reason, sipStatus, detail, _tag, _manager.IsSimulated) { Trace = TraceContext, Results = _results });
            if (from != CallState.Queued || !CallStateMachine.IsFinal(to))
            {
                return true;
            }
        }
        // Ended before it ran (hung up, or the manager stopped): nothing to release.
        LeaveQueueSpan();
        EndTrace();
        _ended.TrySetResult();
        return true;
    }

    string IScriptCall.CallId => Id;

    string IScriptCall.Direction => "outbound";

    string IScriptCall.To => Number.Value;

    string? IScriptCall.From => Request.CallerId ?? _options.DefaultCallerId;

    bool IScriptCall.Simulated => _manager.IsSimulated;

    string? IScriptCall.Tag
    {
        get
        {
            lock (_lock)
            {
                return _tag;
            }
        }
    }

    void IScriptCall.Record(Func<CallResults, CallResults> change)
    {
        lock (_lock)
        {
            _results = change(_results);
        }
    }

    void IScriptCall.SetTag(string tag)
    {
        lock (_lock)
        {
            _tag = tag;
        }
    }

    private void Fail(string reason, int? sipStatus = null, string? detail = null)
    {
        if (TryMove(CallState.Failed, reason, sipStatus, detail))
        {
            CallLog.Failed(_logger, Id, reason, detail ?? string.Empty);
        }
    }

    /// <summary>Runs the call; never throws. Returns when the call has ended and everything is released.</summary>
    public async Task RunAsync(ICallBackend backend, ISpeechSynthesizer speech, ICallHooks hooks, CancellationToken stopping)
    {
        if (!TryMove(CallState.Dialing))
        {
            return; // hung up while queued
        }
        var dialingSince = System.Diagnostics.Stopwatch.GetTimestamp();
        var outer = System.Diagnostics.Activity.Current;
        LeaveQueueSpan();
        System.Diagnostics.Activity.Current = _trace ?? outer;
        using var scope = CallLog.Scope(_logger, Id);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping, _hangup.Token);
        var legs = new Legs();
        try
        {
            if (backend.NotReadyReason is { } notReady)
            {
                Fail(CallReasons.ServiceUnavailable, detail: notReady);
                return;
            }
            // Everything the script says renders while the phone rings; a rendering failure stops the dialling at once.
            using var renderFailed = new CancellationTokenSource();
            var rendering = new ScriptSpeech(speech, Request.Voice, run.Token);
            _ = RenderAheadAsync(rendering, run.Token, renderFailed);
            using var dial = CancellationTokenSource.CreateLinkedTokenSource(run.Token, renderFailed.Token);

            var answeredSince = backend.LateOffer
                ? await ConnectLateOfferAsync(backend, legs, dial.Token).ConfigureAwait(false)
                : await ConnectAsync(backend, legs, dialingSince, dial.Token, run.Token).ConfigureAwait(false);
            TryMove(CallState.Playing, sipStatus: 200);
            await RunScriptAsync(legs.Media!, legs.Dialog!, rendering, hooks, answeredSince, run.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            OnFailure(ex, legs.Dialog is not null, stopping);
        }
        finally
        {
            await ReleaseAsync(legs.Dialog, legs.Media).ConfigureAwait(false);
            EndTrace();
            System.Diagnostics.Activity.Current = outer;
            _ended.TrySetResult();
        }
    }

    /// <summary>The call's span, from when it was placed, a child of whatever placed it; the code placing it carries on in its own.</summary>
    private System.Diagnostics.Activity? StartTrace()
    {
        var outer = System.Diagnostics.Activity.Current;
        var trace = VoiceActivities.Source.StartActivity("call", System.Diagnostics.ActivityKind.Internal, outer?.Context ?? default, startTime: CreatedAt);
        System.Diagnostics.Activity.Current = outer;
        trace?.SetTag("voicebridge.call.id", Id).SetTag("voicebridge.call.to", Number.Value).SetTag("voicebridge.simulated", _manager.IsSimulated);
        return trace;
    }

    /// <summary>The call's time in the queue, from when it was placed to now, as a span under the call's.</summary>
    private void LeaveQueueSpan()
    {
        if (_trace is not null)
        {
            var current = System.Diagnostics.Activity.Current;
            VoiceActivities.Source.StartActivity("call.queue", System.Diagnostics.ActivityKind.Internal, _trace.Context, startTime: CreatedAt)?.Stop();
            System.Diagnostics.Activity.Current = current;
        }
    }

    /// <summary>Ends the call's span, once, with its state and reason; the ending code carries on in its own span.</summary>
    private void EndTrace()
    {
        if (_trace is null || Interlocked.Exchange(ref _traceEnded, 1) == 1)
        {
            return;
        }
        var snapshot = Snapshot();
        _trace.SetTag("voicebridge.call.state", CallStateMachine.Name(snapshot.State)).SetTag("voicebridge.call.reason", snapshot.Reason);
        if (snapshot.SipStatus is { } status)
        {
            _trace.SetTag("sip.status_code", status);
        }
        _trace.SetStatus(snapshot.State == CallState.Completed ? System.Diagnostics.ActivityStatusCode.Ok : System.Diagnostics.ActivityStatusCode.Error, snapshot.Detail);
        var current = System.Diagnostics.Activity.Current;
        _trace.Stop();
        System.Diagnostics.Activity.Current = current;
    }

    /// <summary>A span for one step of the call, ended with the step; failed when the step throws.</summary>
    private static async Task<T> Traced<T>(string name, Func<Task<T>> step, Action<System.Diagnostics.Activity, T>? onResult = null)
    {
        using var span = VoiceActivities.Source.StartActivity(name);
        try
        {
            var result = await step().ConfigureAwait(false);
            if (span is not null)
            {
                onResult?.Invoke(span, result);
            }
            return result;
        }
        catch (Exception ex)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ex.Message);
            if (ex is CallBackendException { SipStatus: { } status })
            {
                span?.SetTag("sip.status_code", status);
            }
            throw;
        }
    }

    /// <summary>
    /// Early offer: the media endpoint first, its SDP in the INVITE; on the answer (or a 183 with SDP) the endpoint is
    /// pointed at the callee's SDP. Returns when the callee answered (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).
    /// </summary>
    private async Task<long> ConnectAsync(ICallBackend backend, Legs legs, long dialingSince, CancellationToken dial, CancellationToken run)
    {
        var media = legs.Media = await Traced("call.media", () => backend.CreateMediaAsync(dial)).ConfigureAwait(false);
        _manager.Meter.DialLatency.Record(VoiceMeter.SecondsSince(dialingSince));
        string? earlySdp = null;
        Task earlyMedia = Task.CompletedTask;
        var dialog = legs.Dialog = await Traced("call.invite", () => backend.DialAsync(Dial(media.LocalSdp, null, (status, sdp) =>
        {
            TryMove(CallState.Ringing, sipStatus: status);
            if (sdp is not null && earlySdp is null)
            {
                // 183 with SDP: connect early media now, so the endpoint hears the far end (and is ready) before the answer.
                earlySdp = sdp;
                earlyMedia = media.ConnectAsync(sdp, dial);
            }
        }), dial), (span, _) => span.SetTag("sip.status_code", 200)).ConfigureAwait(false);
        var answeredSince = System.Diagnostics.Stopwatch.GetTimestamp();
        await earlyMedia.ConfigureAwait(false);
        if (dialog.RemoteSdp != earlySdp || earlySdp is null)
        {
            await media.ConnectAsync(dialog.RemoteSdp ?? string.Empty, run).ConfigureAwait(false);
        }
        return answeredSince;
    }

    /// <summary>
    /// Late offer (SRTP to the phone): an INVITE without SDP; the callee's 2xx carries its offer, the media endpoint is
    /// created to answer it, and the answer goes back in the ACK. No re-INVITE of the endpoint, so its keys stay put.
    /// </summary>
    private async Task<long> ConnectLateOfferAsync(ICallBackend backend, Legs legs, CancellationToken dial)
    {
        var answeredSince = 0L;
        legs.Dialog = await Traced("call.invite", () => backend.DialAsync(Dial(null, async (offer, ct) =>
        {
            answeredSince = System.Diagnostics.Stopwatch.GetTimestamp();
            var media = legs.Media = await Traced("call.media", () => backend.CreateMediaAsync(offer, ct)).ConfigureAwait(false);
            return media.LocalSdp;
        }, (status, _) => TryMove(CallState.Ringing, sipStatus: status)), dial), (span, _) => span.SetTag("sip.status_code", 200)).ConfigureAwait(false);
        return answeredSince;
    }

    private DialRequest Dial(string? sdp, Func<string, CancellationToken, Task<string>>? answerOffer, Action<int, string?> onProgress) => new()
    {
        Number = Number,
        Uri = DialUri,
        Sdp = sdp,
        AnswerOffer = answerOffer,
        CallerId = Request.CallerId ?? _options.DefaultCallerId,
        CallerName = Request.CallerName,
        RingTimeout = Request.RingTimeout ?? _options.DefaultRingTimeout,
        Headers = Request.Headers,
        OnProgress = onProgress,
    };

    /// <summary>The call's two legs as far as they exist, for the release that every way out ends with.</summary>
    private sealed class Legs
    {
        public ICallMedia? Media { get; set; }

        public ICallDialog? Dialog { get; set; }
    }

    /// <summary>Renders the script's speech (and the hook fallback, when it calls hooks); a failure is the call's detail and stops the dialling.</summary>
    private async Task RenderAheadAsync(ScriptSpeech speech, CancellationToken ct, CancellationTokenSource failed)
    {
        try
        {
            var says = Script.Says();
            if (Script.CallsHooks)
            {
                says = says.Append(new SayVerb(_options.HookFailureMessage));
            }
            await speech.Prefetch(says).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            lock (_lock)
            {
                _detail = "the message could not be rendered: " + ex.Message;
            }
            await failed.CancelAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The call ended while rendering: nothing to report.
        }
    }

    /// <summary>Runs the script until it ends, the callee hangs up, the API hangs up or the maximum duration passes.</summary>
    private async Task RunScriptAsync(ICallMedia media, ICallDialog dialog, ScriptSpeech speech, ICallHooks hooks, long answeredSince, CancellationToken ct)
    {
        var maxDuration = Request.MaxDuration ?? _options.MaxCallDuration;
        using var maxTimer = new CancellationTokenSource(maxDuration, _time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, maxTimer.Token);
        using var watching = new CancellationTokenSource();
        var watchers = Task.WhenAll(CancelWhenDone(dialog.Ended, stop, watching.Token), CancelWhenDone(media.Lost, stop, watching.Token));
        var runner = new ScriptRunner(this, media, dialog, speech, hooks, _options, _time, _logger, audio =>
        {
            _manager.Meter.AnswerToAudio.Record(VoiceMeter.SecondsSince(answeredSince));
            if (audio is not null)
            {
                lock (_lock)
                {
                    _provider = audio.Provider;
                }
            }
        });
        try
        {
            await runner.RunAsync(Script, stop.Token).ConfigureAwait(false);
            Complete(CallReasons.AnnounceComplete);
        }
        catch (Exception ex) when (ex is OperationCanceledException or CallBackendException)
        {
            if (dialog.Ended.IsCompleted && dialog.Ended.Result.SignallingLost)
            {
                Fail(CallReasons.SignallingLost, detail: "the link to drachtio-server was lost during the call; the callee's leg is hung up once it is back");
            }
            else if (dialog.Ended.IsCompleted)
            {
                Complete(CallReasons.RemoteHangup);
            }
            else if (ct.IsCancellationRequested)
            {
                // The API hung up, or VoiceBridge is stopping: either way we end an answered call.
                Complete(CallReasons.LocalHangup);
            }
            else if (maxTimer.IsCancellationRequested)
            {
                Complete(CallReasons.MaxDuration);
            }
            else
            {
                Fail(CallReasons.MediaError, detail: media.Lost.IsCompleted ? "the media server lost the call: " + media.Lost.Result : ex.Message);
            }
        }
        finally
        {
            await watching.CancelAsync().ConfigureAwait(false);
            await watchers.ConfigureAwait(false);
        }
    }

    /// <summary>Cancels <paramref name="stop"/> when <paramref name="task"/> completes, unless <paramref name="until"/> comes first.</summary>
    private static async Task CancelWhenDone(Task task, CancellationTokenSource stop, CancellationToken until)
    {
        // Without throwing: in most calls the watch simply ends with the call, and an exception per call costs more
        // than the rest of the watch.
        await task.WaitAsync(until).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (task.IsCompleted && !until.IsCancellationRequested)
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    private void Complete(string reason)
    {
        if (TryMove(CallState.Completed, reason))
        {
            CallLog.Completed(_logger, Id, reason);
        }
    }

    private void OnFailure(Exception ex, bool answered, CancellationToken stopping)
    {
        var outcome = CallOutcomes.ForFailure(ex, answered, _hangup.IsCancellationRequested, stopping.IsCancellationRequested);
        if (outcome.Unexpected)
        {
            CallLog.Unexpected(_logger, ex, Id);
        }
        Fail(outcome.Reason, outcome.SipStatus, outcome.Detail);
    }

    /// <summary>Hangs up and destroys whatever exists, each step on its own so one failing does not skip the other.</summary>
    private async Task ReleaseAsync(ICallDialog? dialog, ICallMedia? media)
    {
        if (dialog is not null && !dialog.Ended.IsCompleted)
        {
            try
            {
                await dialog.HangupAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                CallLog.CleanupFailed(_logger, Id, "BYE", ex.Message);
            }
        }
        if (media is not null)
        {
            try
            {
                await media.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                CallLog.CleanupFailed(_logger, Id, "media endpoint", ex.Message);
            }
        }
    }
}
