using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Voice.Control.Diagnostics;
using Voice.Control.Scripts;

namespace Voice.Control.Calls;

/// <summary>
/// What every call the manager keeps has, whichever way it goes: its state, moved only as the table allows and
/// published in order; its span; what its script found out and its tag; the API's hang-up; and its end.
/// </summary>
internal abstract class TrackedCall : IScriptCall
{
    private readonly List<CallStateChange> _published = new(6);

    /// <summary>The call's span, from when it was placed (or came in) to its end: a child of whatever started it.</summary>
    private readonly Activity? _trace;
    private int _traceEnded;

    private CallState _state;
    private string? _reason;
    private int? _sipStatus;
    private string? _detail;
    private string? _provider;
    private DateTimeOffset? _answeredAt;
    private DateTimeOffset? _endedAt;
    private int _sequence;
    private string? _tag;
    private CallResults _results = CallResults.None;

    protected TrackedCall(CallManager manager, string id, CallState first, string? tag, CallOptions options, TimeProvider time, ILogger logger, string tracedNumber)
    {
        Manager = manager;
        Id = id;
        Options = options;
        Time = time;
        Logger = logger;
        CreatedAt = time.GetUtcNow();
        _state = first;
        _tag = tag;
        _trace = StartTrace(tracedNumber);
    }

    protected CallManager Manager { get; }

    protected CallOptions Options { get; }

    protected TimeProvider Time { get; }

    protected ILogger Logger { get; }

    protected Lock Sync { get; } = new();

    /// <summary>Cancelled when the API hangs the call up.</summary>
    protected CancellationTokenSource HangupRequested { get; } = new();

    /// <summary>Set once the call has ended and everything is released.</summary>
    protected TaskCompletionSource EndedSource { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The call's span, for the changes it publishes (default when nothing listens).</summary>
    private ActivityContext TraceContext => _trace?.Context ?? default;

    /// <summary>The call's span itself, to run the call's work under.</summary>
    protected Activity? Trace => _trace;

    public string Id { get; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>For a call with an acknowledgement: it is false once the call ends without the digit.</summary>
    protected virtual bool AsksAcknowledgement => false;

    public bool IsFinal
    {
        get
        {
            lock (Sync)
            {
                return CallStateMachine.IsFinal(_state);
            }
        }
    }

    public DateTimeOffset? EndedAt
    {
        get
        {
            lock (Sync)
            {
                return _endedAt;
            }
        }
    }

    protected CallState State
    {
        get
        {
            lock (Sync)
            {
                return _state;
            }
        }
    }

    /// <summary>Completes when the call has ended, however it ended.</summary>
    public Task Ended => EndedSource.Task;

    /// <summary>The fields only this kind of call knows (who, what, where it was dialled); the rest is filled in.</summary>
    protected abstract CallSnapshot Identity();

    public CallSnapshot Snapshot()
    {
        var identity = Identity();
        lock (Sync)
        {
            return identity with
            {
                CallId = Id,
                State = _state,
                Reason = _reason,
                SipStatus = _sipStatus,
                Detail = _detail,
                Tag = _tag,
                Results = _results,
                CreatedAt = CreatedAt,
                AnsweredAt = _answeredAt,
                EndedAt = _endedAt,
                Simulated = Manager.IsSimulated,
                SpeechProvider = _provider,
            };
        }
    }

    /// <summary>Every change of this call so far, in order (a watcher that starts late reads these first).</summary>
    public IReadOnlyList<CallStateChange> ChangesSoFar()
    {
        lock (Sync)
        {
            return [.. _published];
        }
    }

    /// <summary>Under the call's lock: kept for late watchers, then handed to the manager's delivery in order.</summary>
    private void Publish(CallStateChange change)
    {
        Manager.Meter.Count(change);
        // The states on the call's timeline: when it rang, when it was answered.
        _trace?.AddEvent(new ActivityEvent(CallStateMachine.Name(change.To), change.At));
        _published.Add(change);
        Manager.Publish(change);
    }

    /// <summary>The first change: the state the call starts in (queued for a placed call, ringing for one that came in).</summary>
    public void Announce()
    {
        lock (Sync)
        {
            Publish(new CallStateChange(Id, ++_sequence, null, _state, CreatedAt, Tag: _tag, Simulated: Manager.IsSimulated) { Trace = TraceContext });
        }
    }

    /// <summary>Hang up through the API: the call's run is cancelled. Completes when the call has ended.</summary>
    public virtual Task HangupAsync()
    {
        HangupRequested.Cancel();
        return EndedSource.Task;
    }

    /// <summary>Moves the call when the table allows it; publishes the change in order. False when it does not.</summary>
    protected bool TryMove(CallState to, string? reason = null, int? sipStatus = null, string? detail = null)
    {
        lock (Sync)
        {
            if (!CallStateMachine.CanMove(_state, to, reason))
            {
                return false;
            }
            var now = Time.GetUtcNow();
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
                if (AsksAcknowledgement && _results.Acknowledged is null)
                {
                    // Ended before the callee pressed the digit (hung up, failed, never answered): not acknowledged.
                    _results = _results with { Acknowledged = false };
                }
            }
            Publish(new CallStateChange(Id, ++_sequence, from, to, now, reason, sipStatus, detail, _tag, Manager.IsSimulated) { Trace = TraceContext, Results = _results });
            if (from != CallState.Queued || !CallStateMachine.IsFinal(to))
            {
                return true;
            }
        }
        // Ended before it ran (hung up, or the manager stopped): nothing to release.
        LeaveQueueSpan();
        EndTrace();
        EndedSource.TrySetResult();
        return true;
    }

    /// <summary>Notes a detail before the change that will carry it (a rendering failure, found while dialling).</summary>
    protected void NoteDetail(string detail)
    {
        lock (Sync)
        {
            _detail = detail;
        }
    }

    /// <summary>The TTS provider whose audio the call played first.</summary>
    protected void NoteProvider(string provider)
    {
        lock (Sync)
        {
            _provider = provider;
        }
    }

    protected void Fail(string reason, int? sipStatus = null, string? detail = null)
    {
        if (TryMove(CallState.Failed, reason, sipStatus, detail))
        {
            CallLog.Failed(Logger, Id, reason, detail ?? string.Empty);
        }
    }

    protected void Complete(string reason, string? detail = null)
    {
        if (TryMove(CallState.Completed, reason, detail: detail))
        {
            CallLog.Completed(Logger, Id, reason);
        }
    }

    /// <summary>Ends the call as its script run ended.</summary>
    protected void Finish(ScriptEnd end)
    {
        if (end.State == CallState.Completed)
        {
            Complete(end.Reason, end.Detail);
        }
        else
        {
            Fail(end.Reason, detail: end.Detail);
        }
    }

    string IScriptCall.CallId => Id;

    public abstract string Direction { get; }

    string IScriptCall.To => Identity().To;

    string? IScriptCall.From => Identity().CallerId;

    bool IScriptCall.Simulated => Manager.IsSimulated;

    string? IScriptCall.Tag
    {
        get
        {
            lock (Sync)
            {
                return _tag;
            }
        }
    }

    void IScriptCall.Record(Func<CallResults, CallResults> change)
    {
        lock (Sync)
        {
            _results = change(_results);
        }
    }

    void IScriptCall.SetTag(string tag)
    {
        lock (Sync)
        {
            _tag = tag;
        }
    }

    /// <summary>The call's span, from when it was placed, a child of whatever placed it; the code placing it carries on in its own.</summary>
    private Activity? StartTrace(string number)
    {
        var outer = Activity.Current;
        var trace = VoiceActivities.Source.StartActivity("call", ActivityKind.Internal, outer?.Context ?? default, startTime: CreatedAt);
        Activity.Current = outer;
        trace?.SetTag("voicebridge.call.id", Id).SetTag("voicebridge.call.to", number).SetTag("voicebridge.simulated", Manager.IsSimulated);
        return trace;
    }

    /// <summary>The call's time in the queue, from when it was placed to now, as a span under the call's.</summary>
    protected void LeaveQueueSpan()
    {
        if (_trace is not null)
        {
            var current = Activity.Current;
            VoiceActivities.Source.StartActivity("call.queue", ActivityKind.Internal, _trace.Context, startTime: CreatedAt)?.Stop();
            Activity.Current = current;
        }
    }

    /// <summary>Ends the call's span, once, with its state and reason; the ending code carries on in its own span.</summary>
    protected void EndTrace()
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
        _trace.SetStatus(snapshot.State == CallState.Completed ? ActivityStatusCode.Ok : ActivityStatusCode.Error, snapshot.Detail);
        var current = Activity.Current;
        _trace.Stop();
        // Stop makes the span's parent current. What was current goes back, unless that was this span, now ended: setting
        // an ended span current is refused, with an exception System.Diagnostics throws and catches itself.
        if (current is null || !current.IsStopped)
        {
            Activity.Current = current;
        }
    }

    /// <summary>A span for one step of the call, ended with the step; failed when the step throws.</summary>
    protected static async Task<T> Traced<T>(string name, Func<Task<T>> step, Action<Activity, T>? onResult = null)
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
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            if (ex is CallBackendException { SipStatus: { } status })
            {
                span?.SetTag("sip.status_code", status);
            }
            throw;
        }
    }
}
