using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Diagnostics;
using Voice.Control.Phone;
using Voice.Control.Scripts;
using Voice.Control.Sip;
using Voice.Control.Tts;

namespace Voice.Control.Calls;

/// <summary>
/// Places announce calls: validates requests, queues them, and a dispatcher starts them in order within the
/// limits on concurrent calls and calls per second. State changes are delivered in order per call, off the
/// calls' own flow, to <see cref="StateChanged"/> and to every <see cref="WatchAsync(CancellationToken)"/> reader.
/// </summary>
public sealed class CallManager : IOutboundCalls, IAsyncDisposable
{
    private const int MaxHeaders = 20;

    private readonly CallOptions _options;
    private readonly ICallBackend _backend;
    private readonly ISpeechSynthesizer _speech;
    private readonly ICallHooks _hooks;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILogger _callLogger;
    private readonly ILogger _inboundLogger;
    private readonly ConcurrentDictionary<string, TrackedCall> _calls = new(StringComparer.Ordinal);
    private readonly Channel<OutboundCall> _queue = Channel.CreateUnbounded<OutboundCall>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<CallStateChange> _changes = Channel.CreateUnbounded<CallStateChange>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<Watcher, byte> _watchers = new();
    private readonly SemaphoreSlim _slots;
    private readonly CallerRate _inboundRate;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _running = new();
    private Task _dispatcher = Task.CompletedTask;
    private Task _delivery = Task.CompletedTask;
    private int _started;
    private int _queued;
    private long _lastForget;
    private int _disposed;
    private int _inHandler;

    /// <remarks>Scripts' hooks are called through <paramref name="hooks"/>; by default as unsigned JSON POSTs (<see cref="HttpCallHooks"/>).</remarks>
    public CallManager(CallOptions options, ICallBackend backend, ISpeechSynthesizer speech, ILoggerFactory? loggers = null, TimeProvider? timeProvider = null, VoiceMeter? meter = null, ICallHooks? hooks = null)
    {
        Meter = meter ?? new VoiceMeter();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(speech);
        options.Validate();
        _options = options;
        _backend = backend;
        _speech = speech;
        _hooks = hooks ?? DefaultHooks.Value;
        _time = timeProvider ?? TimeProvider.System;
        loggers ??= NullLoggerFactory.Instance;
        _logger = loggers.CreateLogger<CallManager>();
        _callLogger = loggers.CreateLogger("Voice.Control.Calls.OutboundCall");
        _inboundLogger = loggers.CreateLogger("Voice.Control.Calls.InboundCall");
        _slots = new SemaphoreSlim(options.MaxConcurrentCalls, options.MaxConcurrentCalls);
        _inboundRate = new CallerRate(options.InboundCallsPerCallerPerMinute, TimeSpan.FromMinutes(1));
        if (backend.IsSimulated)
        {
            CallLog.SimulatedBackend(_logger);
        }
    }

    /// <summary>The dispatcher and the delivery loop start with the first call, not in the constructor.</summary>
    private void EnsureStarted()
    {
        if (Volatile.Read(ref _started) == 0)
        {
            lock (_stopping)
            {
                if (_started == 0)
                {
                    // Not in the first caller's context: its request's trace and log scopes are not the loops'.
                    using (ExecutionContext.SuppressFlow())
                    {
                        _dispatcher = Task.Run(() => DispatchAsync(_stopping.Token));
                        _delivery = Task.Run(DeliverAsync);
                    }
                    Volatile.Write(ref _started, 1);
                }
            }
        }
    }

    private static readonly Lazy<ICallHooks> DefaultHooks = new(() => new HttpCallHooks(HttpCallHooks.DefaultClient()));

    public bool IsSimulated => _backend.IsSimulated;

    /// <summary>The backend calls are placed on (a script's <c>dial</c> makes its second leg there).</summary>
    internal ICallBackend Backend => _backend;

    /// <summary>Watchers registered now (for tests: a watch that ended holds nothing).</summary>
    internal int WatcherCount => _watchers.Count;

    /// <summary>Where the calls' latencies are recorded.</summary>
    internal VoiceMeter Meter { get; }

    public event EventHandler<CallStateChange>? StateChanged;

    /// <summary>
    /// Raised for each call that comes in (<see cref="Accept"/>), before its first state change, on the thread that
    /// accepted it: whoever records calls learns of one it did not place before any of its changes.
    /// </summary>
    public event EventHandler<CallSnapshot>? CallArrived;

    public IReadOnlyList<CallSnapshot> Active =>
        [.. _calls.Values.Where(c => !c.IsFinal).OrderBy(c => c.CreatedAt).Select(c => c.Snapshot())];

    public CallSnapshot? Get(string callId)
    {
        ArgumentNullException.ThrowIfNull(callId);
        return _calls.TryGetValue(callId, out var call) ? call.Snapshot() : null;
    }

    public CallSnapshot Place(CallRequest request) => Place(request, null);

    /// <summary>
    /// Checks a request as <see cref="Place(CallRequest)"/> would, without placing it: for a call another process will
    /// place (a host of a cluster that takes it from the shared queue).
    /// </summary>
    /// <exception cref="CallRequestException">A field is invalid or the destination is denied.</exception>
    public void Check(CallRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
    }

    /// <summary>Places a call under an id the caller chose (the host's, written to its store before the call starts).</summary>
    internal CallSnapshot Place(CallRequest request, string? callId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        var number = Validate(request);
        EnsureStarted();
        Forget();
        if (Interlocked.Increment(ref _queued) > _options.MaxQueuedCalls)
        {
            Interlocked.Decrement(ref _queued);
            throw new CallQueueFullException(_options.MaxQueuedCalls, TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(_options.MaxQueuedCalls / _options.CallsPerSecond))));
        }
        var id = callId ?? CallIds.New();
        var call = new OutboundCall(this, id, request, number, _options.DialPlan.ToSipUri(number), _options, _time, _callLogger);
        if (!_calls.TryAdd(id, call))
        {
            Interlocked.Decrement(ref _queued);
            throw new CallRequestException("callId", $"a call with id '{id}' already exists");
        }
        CallLog.Queued(_logger, id, number.Value, _backend.Name);
        call.Announce();
        // Taken before the dispatcher can start the call: the caller is told the call as it was queued.
        var queued = call.Snapshot();
        _queue.Writer.TryWrite(call);
        return queued;
    }

    /// <summary>
    /// Takes a call that came in (<paramref name="leg"/>, from a dialplan's hand-over, an INVITE, or the simulated
    /// backend) and runs its application's script; returns at once (state <c>ringing</c>). Refused, and reported failed
    /// with the reason: a caller on <see cref="CallOptions.DeniedCallers"/> (403, <c>caller_denied</c>), one over
    /// <see cref="CallOptions.InboundCallsPerCallerPerMinute"/> (486, <c>caller_limited</c>), and any call beyond
    /// <see cref="CallOptions.MaxConcurrentCalls"/> (503, <c>service_unavailable</c>).
    /// </summary>
    public CallSnapshot Accept(InboundCallInfo info, IInboundLeg leg, string? callId = null)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(leg);
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        EnsureStarted();
        Forget();
        var id = callId ?? CallIds.New();
        var call = new InboundCall(this, id, info, leg, _options, _time, _inboundLogger);
        if (!_calls.TryAdd(id, call))
        {
            throw new CallRequestException("callId", $"a call with id '{id}' already exists");
        }
        // The call as it came in: what the caller of Accept is told, whatever the run that starts below does meanwhile.
        var arrived = call.Snapshot();
        CallArrived?.Invoke(this, arrived);
        call.Announce();
        var refusal = Denied(info.From) ? (403, CallReasons.CallerDenied, "the caller is on the deny list")
            : !_inboundRate.TryTake(info.From, _time.GetUtcNow()) ? (486, CallReasons.CallerLimited, $"more than {_options.InboundCallsPerCallerPerMinute} calls from this caller in a minute")
            : !_slots.Wait(0) ? (503, CallReasons.ServiceUnavailable, $"VoiceBridge is at its limit of {_options.MaxConcurrentCalls} calls at once")
            : ((int, string, string)?)null;
        var run = refusal is null ? RunInboundAsync(call) : RefuseAsync(call, refusal.Value);
        _running[run] = 0;
        _ = run.ContinueWith(t => _running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return arrived;

        async Task RunInboundAsync(InboundCall inbound)
        {
            try
            {
                await Task.Yield();
                await inbound.RunAsync(_speech, _hooks, _stopping.Token).ConfigureAwait(false);
            }
            finally
            {
                _slots.Release();
            }
        }

        async Task RefuseAsync(InboundCall inbound, (int Status, string Reason, string Detail) refusal)
        {
            await Task.Yield();
            await inbound.RefuseAsync(refusal.Status, refusal.Reason, refusal.Detail).ConfigureAwait(false);
        }
    }

    private bool Denied(string caller) => _options.DeniedCallers.Any(denied => denied.EndsWith('*')
        ? caller.StartsWith(denied[..^1], StringComparison.OrdinalIgnoreCase)
        : caller.Equals(denied, StringComparison.OrdinalIgnoreCase));

    public async Task<bool> HangupAsync(string callId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        if (!_calls.TryGetValue(callId, out var call) || call.IsFinal)
        {
            return false;
        }
        await call.HangupAsync().WaitAsync(ct).ConfigureAwait(false);
        return true;
    }

    public async Task<CallSnapshot> WaitForEndAsync(string callId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        if (!_calls.TryGetValue(callId, out var call))
        {
            throw new KeyNotFoundException($"No call {callId} is active or ended recently.");
        }
        await call.Ended.WaitAsync(ct).ConfigureAwait(false);
        return call.Snapshot();
    }

    public IAsyncEnumerable<CallStateChange> WatchAsync(CancellationToken ct = default)
    {
        // Registered now, not when enumeration starts: a call placed after this is watched from its first change.
        var watcher = new Watcher(null, _options.WatchCapacity);
        _watchers[watcher] = 0;
        return ReadAsync(watcher, null, ct);
    }

    public IAsyncEnumerable<CallStateChange> WatchAsync(string callId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        if (!_calls.TryGetValue(callId, out var call))
        {
            throw new KeyNotFoundException($"No call {callId} is active or ended recently.");
        }
        if (call.IsFinal)
        {
            return ReadAsync(null, call, ct); // all of it is known: nothing to register
        }
        // Registered before the changes so far are read: whatever is published in between reaches the watcher, and
        // what it already read is skipped by sequence number. The delivery ends it with the call's final change.
        var watcher = new Watcher(callId, _options.WatchCapacity);
        _watchers[watcher] = 0;
        return ReadAsync(watcher, call, ct);
    }

    private async IAsyncEnumerable<CallStateChange> ReadAsync(Watcher? watcher, TrackedCall? call, [EnumeratorCancellation] CancellationToken ct)
    {
        try
        {
            var last = 0;
            if (call is not null)
            {
                foreach (var change in call.ChangesSoFar())
                {
                    last = change.Sequence;
                    yield return change;
                    if (CallStateMachine.IsFinal(change.To))
                    {
                        yield break;
                    }
                }
            }
            if (watcher is null)
            {
                yield break;
            }
            await foreach (var change in watcher.Changes.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (call is not null && change.Sequence <= last)
                {
                    continue;
                }
                yield return change;
                if (call is not null && CallStateMachine.IsFinal(change.To))
                {
                    yield break;
                }
            }
        }
        finally
        {
            if (watcher is not null)
            {
                _watchers.TryRemove(watcher, out _);
            }
        }
    }

    /// <summary>Called under the call's lock, so one call's changes enter the stream in order.</summary>
    internal void Publish(CallStateChange change) => _changes.Writer.TryWrite(change);

    /// <summary>Checks every field of a request the way the original's API did, and more; returns the number to dial.</summary>
    private PhoneNumber Validate(CallRequest request)
    {
        if (request.Script is null)
        {
            if (string.IsNullOrWhiteSpace(request.Message))
            {
                throw new CallRequestException("message", "is required (or a script of verbs)");
            }
            if (request.Message.Length > CallFieldRules.MaxMessageLength)
            {
                throw new CallRequestException("message", $"has {request.Message.Length} characters; at most {CallFieldRules.MaxMessageLength}");
            }
        }
        else if (request.Message is not null || request.Acknowledge is not null)
        {
            throw new CallRequestException(request.Message is not null ? "message" : "acknowledge", "goes with a message, not with a script: put it in the script's verbs");
        }
        else if (request.Script.Verbs.Count is 0 or > CallScript.MaxVerbs)
        {
            throw new CallRequestException("verbs", $"must hold 1–{CallScript.MaxVerbs} verbs");
        }
        if (_options.Recording is null)
        {
            if (request.Record)
            {
                throw new CallRequestException("record", "recording is not configured on this server");
            }
            if (request.Script?.Verbs.Select((verb, i) => (verb, i)).FirstOrDefault(v => v.verb is RecordVerb) is { verb: not null } record)
            {
                throw new CallRequestException($"verbs[{record.i}].record", "recording is not configured on this server");
            }
        }
        foreach (var (dial, i) in (request.Script?.Verbs ?? []).Select((verb, i) => (verb as DialVerb, i)).Where(v => v.Item1 is not null))
        {
            foreach (var (target, j) in dial!.Targets.Select((target, j) => (target, j)))
            {
                if (!PhoneNumber.TryParse(target, _options.Numbers, out var dialled, out var wrong))
                {
                    throw new CallRequestException($"verbs[{i}].dial.target[{j}]", wrong);
                }
                if (_options.Policy.Check(dialled) is { } refused)
                {
                    throw new CallRequestException($"verbs[{i}].dial.target[{j}]", refused, CallReasons.DestinationDenied);
                }
            }
        }
        if (request.Acknowledge?.Problem() is { } problem)
        {
            throw new CallRequestException("acknowledge." + problem.Path, problem.Reason);
        }
        if (!PhoneNumber.TryParse(request.To, _options.Numbers, out var number, out var error))
        {
            throw new CallRequestException("to", error);
        }
        if (_options.Policy.Check(number) is { } denied)
        {
            throw new CallRequestException("to", denied, CallReasons.DestinationDenied);
        }
        if (request.RingTimeout is { } ring && (ring < TimeSpan.FromSeconds(5) || ring > TimeSpan.FromSeconds(120)))
        {
            throw new CallRequestException("timeoutSeconds", "must be between 5 and 120 seconds");
        }
        if (request.Repeat is < 1 or > 5)
        {
            throw new CallRequestException("repeat", "must be between 1 and 5");
        }
        if (request.MaxDuration is { } max && (max <= TimeSpan.Zero || max > _options.MaxCallDuration))
        {
            throw new CallRequestException("maxDurationSeconds", $"must be positive and at most {_options.MaxCallDuration.TotalSeconds:0} seconds");
        }
        if (request.CallerId is { } callerId && !CallFieldRules.IsCallerId(callerId))
        {
            throw new CallRequestException("callerId", CallFieldRules.CallerIdRule);
        }
        if (request.CallerName is { } name && (name.Length > 64 || name.Any(char.IsControl)))
        {
            throw new CallRequestException("callerName", "must be at most 64 characters without control characters");
        }
        if (request.Voice is { } voice && !CallFieldRules.IsVoiceName(voice))
        {
            throw new CallRequestException("voice", "must be a voice name or id (letters, digits, _ - .)");
        }
        if (request.Voice is { } named && _speech.VoiceProblem(named) is { } unknown)
        {
            throw new CallRequestException("voice", unknown);
        }
        for (var i = 0; i < (request.Script?.Verbs.Count ?? 0); i++)
        {
            var (field, say) = request.Script!.Verbs[i] switch
            {
                SayVerb s => ($"verbs[{i}].voice", s),
                GatherVerb { Prompt: SayVerb p } => ($"verbs[{i}].gather.say.voice", p),
                _ => (null, null),
            };
            if (say?.Voice is { } voiceName && _speech.VoiceProblem(voiceName) is { } voiceProblem)
            {
                throw new CallRequestException(field!, voiceProblem);
            }
        }
        if (request.Tag is { Length: > 4096 })
        {
            throw new CallRequestException("tag", "must be at most 4096 characters");
        }
        ValidateHeaders(request.Headers);
        return number;
    }

    private static void ValidateHeaders(IReadOnlyDictionary<string, string>? headers)
    {
        if (headers is null)
        {
            return;
        }
        if (headers.Count > MaxHeaders)
        {
            throw new CallRequestException("headers", $"at most {MaxHeaders} headers");
        }
        foreach (var (name, value) in headers)
        {
            if (!name.StartsWith("X-", StringComparison.OrdinalIgnoreCase) || name.Length < 3)
            {
                throw new CallRequestException("headers", $"'{name}': only X- headers may be added");
            }
            if (value is null || value.Length > 256)
            {
                throw new CallRequestException("headers", $"'{name}': a value of at most 256 characters is required");
            }
            try
            {
                SipHeaderNames.ValidateCustomHeader(name, value);
            }
            catch (ArgumentException ex)
            {
                throw new CallRequestException("headers", $"'{name}': {ex.Message}");
            }
        }
    }

    /// <summary>Starts queued calls in order: one concurrency slot each, no faster than the configured rate.</summary>
    private async Task DispatchAsync(CancellationToken stopping)
    {
        var interval = TimeSpan.FromSeconds(1 / _options.CallsPerSecond);
        var nextStart = _time.GetUtcNow();
        try
        {
            await foreach (var call in _queue.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                if (call.IsFinal)
                {
                    Interlocked.Decrement(ref _queued);
                    continue; // hung up while it waited
                }
                await _slots.WaitAsync(stopping).ConfigureAwait(false);
                var now = _time.GetUtcNow();
                if (nextStart > now)
                {
                    await Task.Delay(nextStart - now, _time, stopping).ConfigureAwait(false);
                    now = nextStart;
                }
                nextStart = now + interval;
                Interlocked.Decrement(ref _queued);
                var run = RunAsync(call, stopping);
                _running[run] = 0;
                _ = run.ContinueWith(t => _running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task RunAsync(OutboundCall call, CancellationToken stopping)
    {
        try
        {
            // Starts on the dispatcher's thread (a pool thread, never the caller of Place) up to its first wait: the
            // dispatcher goes on once the INVITE is on its way.
            await call.RunAsync(_backend, _speech, _hooks, stopping).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task DeliverAsync()
    {
        await foreach (var change in _changes.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            // Watchers first: they only queue the change, while a handler may run the code that awaited it. The
            // dictionary itself is walked, not its Keys, which copy every key under all its locks for each change.
            foreach (var (watcher, _) in _watchers)
            {
                if (watcher.CallId is { } id && id != change.CallId)
                {
                    continue;
                }
                if (!watcher.Changes.Writer.TryWrite(change))
                {
                    // A watcher that stopped reading is ended, with an error that says so, never silently thinned out.
                    _watchers.TryRemove(watcher, out _);
                    watcher.Changes.Writer.TryComplete(new CallWatchOverflowException(_options.WatchCapacity));
                }
                else if (watcher.CallId is not null && CallStateMachine.IsFinal(change.To))
                {
                    // One call's watch ends with its final change, read or not: nothing is held for it after that.
                    _watchers.TryRemove(watcher, out _);
                    watcher.Changes.Writer.TryComplete();
                }
            }
            Volatile.Write(ref _inHandler, 1);
            try
            {
                StateChanged?.Invoke(this, change);
            }
            catch (Exception ex)
            {
                CallLog.HandlerFailed(_logger, ex, change);
            }
            finally
            {
                Volatile.Write(ref _inHandler, 0);
            }
        }
        foreach (var watcher in _watchers.Keys)
        {
            watcher.Changes.Writer.TryComplete();
        }
    }

    /// <summary>Drops ended calls older than the retention, so a long-running process does not grow without bound.</summary>
    private void Forget()
    {
        // A scan of every call, so not on every Place: at most once a second is plenty for a retention in minutes.
        var now = _time.GetUtcNow();
        var last = Interlocked.Read(ref _lastForget);
        if (now.UtcTicks - last < TimeSpan.TicksPerSecond || Interlocked.CompareExchange(ref _lastForget, now.UtcTicks, last) != last)
        {
            return;
        }
        var cutoff = now - _options.EndedCallRetention;
        foreach (var (id, call) in _calls)
        {
            if (call.EndedAt is { } ended && ended < cutoff)
            {
                _calls.TryRemove(id, out _);
            }
        }
    }

    /// <summary>Stops dispatching, fails what is queued, ends every running call (CANCEL or BYE), then closes the change stream.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        lock (_stopping)
        {
            _started = 1; // no loop starts after this
        }
        await _dispatcher.ConfigureAwait(false);
        foreach (var call in _calls.Values.Where(c => !c.IsFinal))
        {
            _ = call.HangupAsync();
        }
        await Task.WhenAll(_running.Keys).ConfigureAwait(false);
        _changes.Writer.TryComplete();
        // Disposed from inside a StateChanged handler (code that awaited a change and continued on the delivery loop,
        // then stopped the host): waiting for the loop would wait for ourselves. The loop ends by itself once the
        // handler returns. Otherwise the last changes are delivered first, within a bound a stuck handler cannot stretch.
        if (Volatile.Read(ref _inHandler) == 0)
        {
            try
            {
                await _delivery.WaitAsync(DeliveryDrainTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                CallLog.DeliveryNotDrained(_logger, DeliveryDrainTimeout);
            }
        }
        foreach (var watcher in _watchers.Keys)
        {
            watcher.Changes.Writer.TryComplete(); // also those of a manager that never placed a call
        }
        _stopping.Dispose();
    }

    /// <summary>How long disposal waits for the last state changes to reach handlers and watchers.</summary>
    internal static readonly TimeSpan DeliveryDrainTimeout = TimeSpan.FromSeconds(10);

    /// <summary>One <see cref="WatchAsync(CancellationToken)"/> reader: a bounded queue, for one call or all.</summary>
    private sealed class Watcher(string? callId, int capacity)
    {
        public string? CallId { get; } = callId;

        public Channel<CallStateChange> Changes { get; } = Channel.CreateBounded<CallStateChange>(
            new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    }
}
