using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Net;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// The inbound Event Socket client (we connect to FreeSWITCH's port 8021): authentication, <c>api</c> and
/// <c>bgapi</c>, event subscriptions and filters delivered as a bounded stream, HEARTBEAT-based liveness, and
/// reconnection with back-off after FreeSWITCH restarts — subscriptions and filters are restored each time.
/// </summary>
/// <remarks>
/// Replies complete the tasks awaiting them on the connection's read loop, without a hand-off to the thread pool:
/// code that continues after awaiting this client must not block (see <see cref="Drachtio.DrachtioClient"/>).
/// </remarks>
public sealed class EslClient : IAsyncDisposable, IReconnectingLink<EslConnection>
{
    private static readonly string[] AlwaysSubscribed = ["HEARTBEAT", "BACKGROUND_JOB"];
    private readonly EslClientOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private readonly List<string> _subscribed = [];
    private readonly List<(string Header, string Value)> _filters = [];
    private readonly ConcurrentDictionary<string, TaskCompletionSource<EslEvent>> _jobs = new(StringComparer.Ordinal);
    private readonly Channel<EslEvent> _events;
    private volatile EslConnection? _connection;
    private Task? _run;
    private long _lastHeard;
    private long _dropped;
    private int _disposed;

    public EslClient(EslClientOptions options, ILogger<EslClient>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger<EslClient>.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _events = Channel.CreateBounded<EslEvent>(
            new BoundedChannelOptions(options.EventBufferCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true },
            _ => EslLog.EventDropped(_logger, Interlocked.Increment(ref _dropped)));
    }

    /// <summary>Raised after every successful authentication, the first and each reconnect.</summary>
    public event EventHandler? Connected;

    /// <summary>Raised when an authenticated link is lost; the client reconnects unless it is being disposed.</summary>
    public event EventHandler<Exception>? Disconnected;

    public EslClientOptions Options => _options;

    public bool IsConnected => _connection is { IsClosed: false };

    /// <summary>Why the last link was lost or the last attempt to connect failed (a bounded preview); null while connected.</summary>
    public string? LastFailure { get; private set; }

    /// <summary>The events subscribed with <see cref="SubscribeAsync"/>, oldest first. Bounded: see <see cref="EslClientOptions.EventBufferCapacity"/>.</summary>
    public ChannelReader<EslEvent> Events => _events.Reader;

    /// <summary>Events dropped because <see cref="Events"/> was full.</summary>
    public long DroppedEvents => Interlocked.Read(ref _dropped);

    /// <summary>The load figures of the last HEARTBEAT; null before the first.</summary>
    public FreeSwitchLoad? Load { get; private set; }

    /// <summary>
    /// Connects and authenticates, retrying transient failures with back-off until <paramref name="ct"/> is
    /// cancelled; afterwards the client reconnects by itself whenever the link is lost.
    /// </summary>
    /// <exception cref="EslAuthenticationException">The password was refused; the client does not retry.</exception>
    /// <exception cref="EslAccessDeniedException">FreeSWITCH's ACL rejects this host; the client does not retry.</exception>
    public Task ConnectAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        lock (_lock)
        {
            _run ??= Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        }
        return _firstConnection.Task.WaitAsync(ct);
    }

    /// <summary>Runs <c>api &lt;command&gt;</c> and returns its result.</summary>
    /// <exception cref="EslCommandException">FreeSWITCH answered <c>-ERR …</c>.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="EslClientOptions.CommandTimeout"/>.</exception>
    public async Task<string> ApiAsync(string command, CancellationToken ct = default)
    {
        EslCommands.RequireOneLine(command, nameof(command));
        var reply = await SendAsync("api " + command, ct).ConfigureAwait(false);
        return reply.IsError ? throw new EslCommandException("api " + command, reply.Summary) : reply.BodyText;
    }

    /// <summary>
    /// Runs <c>bgapi &lt;command&gt;</c>: FreeSWITCH accepts it at once and the result comes later as the
    /// BACKGROUND_JOB event carrying our Job-UUID. Long jobs (originate) are bounded by <paramref name="ct"/> only.
    /// </summary>
    /// <exception cref="EslCommandException">FreeSWITCH refused the job, or the job's result is <c>-ERR …</c>.</exception>
    public async Task<string> BackgroundApiAsync(string command, CancellationToken ct = default)
    {
        EslCommands.RequireOneLine(command, nameof(command));
        var jobId = CorrelationIds.New();
        var job = new TaskCompletionSource<EslEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        _jobs[jobId] = job;
        try
        {
            var accepted = await SendAsync($"bgapi {command}\nJob-UUID: {jobId}", ct).ConfigureAwait(false);
            if (accepted.IsError)
            {
                throw new EslCommandException("bgapi " + command, accepted.Summary);
            }
            var result = (await job.Task.WaitAsync(ct).ConfigureAwait(false)).Body ?? string.Empty;
            return result.StartsWith("-ERR", StringComparison.Ordinal) ? throw new EslCommandException("bgapi " + command, result.Trim()) : result;
        }
        finally
        {
            _jobs.TryRemove(jobId, out _);
        }
    }

    /// <summary>Adds events to the subscription (kept across reconnects) and delivers them to <see cref="Events"/>.</summary>
    public async Task SubscribeAsync(IEnumerable<string> eventNames, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(eventNames);
        var names = eventNames.ToList();
        foreach (var name in names)
        {
            EslCommands.RequireToken(name, nameof(eventNames));
        }
        lock (_lock)
        {
            _subscribed.AddRange(names.Where(n => !_subscribed.Contains(n)));
        }
        if (IsConnected && names.Count > 0)
        {
            await RequireOk(await SendAsync("event plain " + string.Join(' ', names), ct).ConfigureAwait(false), "event").ConfigureAwait(false);
        }
    }

    /// <summary>Adds a filter (<c>filter &lt;header&gt; &lt;value&gt;</c>), kept across reconnects.</summary>
    public async Task FilterAsync(string header, string value, CancellationToken ct = default)
    {
        EslCommands.RequireToken(header, nameof(header));
        EslCommands.RequireOneLine(value, nameof(value));
        lock (_lock)
        {
            _filters.Add((header, value));
        }
        if (IsConnected)
        {
            await RequireOk(await SendAsync($"filter {header} {value}", ct).ConfigureAwait(false), "filter").ConfigureAwait(false);
        }
    }

    private static Task RequireOk(EslMessage reply, string command) =>
        reply.IsError ? Task.FromException(new EslCommandException(command, reply.Summary)) : Task.CompletedTask;

    private async Task<EslMessage> SendAsync(string command, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        var connection = _connection is { IsClosed: false } live ? live : throw EslConnectionLostException.NotConnected();
        try
        {
            return await connection.SendAsync(command, ct).WaitAsync(_options.CommandTimeout, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"FreeSWITCH did not answer '{command.Split('\n')[0]}' within {_options.CommandTimeout}");
        }
    }

    private Task RunAsync(CancellationToken stopping) => ReconnectLoop.RunAsync(this, stopping);

    TimeProvider IReconnectingLink<EslConnection>.Time => _time;

    Task<EslConnection> IReconnectingLink<EslConnection>.OpenAsync(CancellationToken stopping) => OpenAsync(stopping);

    bool IReconnectingLink<EslConnection>.IsFatal(Exception error) => error is EslAuthenticationException or EslAccessDeniedException;

    void IReconnectingLink<EslConnection>.OnFatal(Exception error)
    {
        EslLog.Refused(_logger, _options.ToString(), error.Message);
        _firstConnection.TrySetException(error);
    }

    void IReconnectingLink<EslConnection>.OnUp(EslConnection connection)
    {
        _connection = connection;
        LastFailure = null;
        EslLog.Connected(_logger, _options.ToString());
        _firstConnection.TrySetResult();
        Connected?.Invoke(this, EventArgs.Empty);
    }

    Task IReconnectingLink<EslConnection>.WhileUpAsync(EslConnection connection, CancellationToken ct) => WatchHeartbeatsAsync(connection, ct);

    void IReconnectingLink<EslConnection>.OnDown(EslConnection connection, Exception? failure, bool stopping)
    {
        _connection = null;
        LastFailure = WireText.Preview(failure?.Message ?? "closed", 300);
        var lost = EslConnectionLostException.Lost(failure);
        FailJobs(lost);
        if (Volatile.Read(ref _disposed) == 0)
        {
            EslLog.ConnectionLost(_logger, _options.ToString(), failure?.Message ?? "closed");
        }
        Disconnected?.Invoke(this, lost);
    }

    void IReconnectingLink<EslConnection>.OnConnectFailed(Exception? failure, int failures, TimeSpan delay)
    {
        LastFailure = WireText.Preview(failure?.Message ?? "unknown error", 300);
        EslLog.ConnectFailed(_logger, Backoff.LogLevelFor(failures), _options.ToString(), failure?.Message ?? "unknown error", delay);
    }

    TimeSpan IReconnectingLink<EslConnection>.NextDelay(int failures) => Backoff.Next(_options.ReconnectMinDelay, _options.ReconnectMaxDelay, failures);

    Exception IReconnectingLink<EslConnection>.Disposed() => new EslConnectionLostException("Event Socket client disposed");

    /// <summary>Connects, waits for auth/request, authenticates, and restores subscriptions and filters.</summary>
    private async Task<EslConnection> OpenAsync(CancellationToken stopping)
    {
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        var greeting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        EslConnection? connection = null;
        try
        {
            connection = await EslConnection.ConnectAsync(
                _options.Host, _options.Port, _options.Limits, _logger, message => OnMessage(message, greeting), linked.Token).ConfigureAwait(false);
            await Task.WhenAny(greeting.Task, connection.Closed).WaitAsync(linked.Token).ConfigureAwait(false);
            if (!greeting.Task.IsCompleted)
            {
                throw EslConnectionLostException.Lost(await connection.Closed.ConfigureAwait(false));
            }
            await greeting.Task.ConfigureAwait(false); // rethrows a rude rejection
            var auth = await connection.SendAsync("auth " + _options.Password, linked.Token).ConfigureAwait(false);
            if (auth.IsError)
            {
                throw new EslAuthenticationException($"FreeSWITCH refused the Event Socket password: {auth.Summary}");
            }
            string[] events;
            (string Header, string Value)[] filters;
            lock (_lock)
            {
                events = [.. _subscribed.Union(AlwaysSubscribed, StringComparer.Ordinal)];
                filters = [.. _filters];
            }
            await RequireOk(await connection.SendAsync("event plain " + string.Join(' ', events), linked.Token).ConfigureAwait(false), "event")
                .ConfigureAwait(false);
            foreach (var (header, value) in filters)
            {
                await RequireOk(await connection.SendAsync($"filter {header} {value}", linked.Token).ConfigureAwait(false), "filter")
                    .ConfigureAwait(false);
            }
            Volatile.Write(ref _lastHeard, _time.GetTimestamp());
            return connection;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            await DisposeQuietly(connection).ConfigureAwait(false);
            throw new TimeoutException($"no Event Socket session with FreeSWITCH at {_options} within {_options.ConnectTimeout}");
        }
        catch
        {
            await DisposeQuietly(connection).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task DisposeQuietly(EslConnection? connection)
    {
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs on the read loop: greeting, notices and events.</summary>
    private void OnMessage(EslMessage message, TaskCompletionSource greeting)
    {
        Volatile.Write(ref _lastHeard, _time.GetTimestamp());
        switch (message.ContentType)
        {
            case EslContentTypes.AuthRequest:
                greeting.TrySetResult();
                return;
            case EslContentTypes.RudeRejection:
                greeting.TrySetException(new EslAccessDeniedException(
                    $"FreeSWITCH's Event Socket ACL rejects this host ({message.BodyText.Trim()}); allow it in event_socket.conf.xml apply-inbound-acl"));
                return;
            case EslContentTypes.DisconnectNotice:
                // After our own exit the notice is FreeSWITCH's goodbye, not news.
                if (Volatile.Read(ref _disposed) == 0)
                {
                    EslLog.DisconnectNotice(_logger, _options.ToString(), message.BodyText.Trim());
                }
                return;
            case EslContentTypes.EventPlain or EslContentTypes.EventJson:
                OnEvent(EslEvent.Parse(message));
                return;
        }
    }

    private void OnEvent(EslEvent e)
    {
        bool wanted;
        lock (_lock)
        {
            wanted = _subscribed.Contains(e.Name) || _subscribed.Contains("ALL");
        }
        if (e.Name == "HEARTBEAT")
        {
            Load = FreeSwitchLoad.FromHeartbeat(e, _time.GetUtcNow());
        }
        else if (e.Name == "BACKGROUND_JOB" && e["Job-UUID"] is { } jobId && _jobs.TryRemove(jobId, out var job))
        {
            job.TrySetResult(e);
            return;
        }
        if (wanted)
        {
            _events.Writer.TryWrite(e);
        }
    }

    /// <summary>No message at all for <see cref="EslClientOptions.HeartbeatTimeout"/> closes the link so it is reconnected.</summary>
    private async Task WatchHeartbeatsAsync(EslConnection connection, CancellationToken ct)
    {
        var check = _options.HeartbeatTimeout / 4;
        try
        {
            while (true)
            {
                await Task.Delay(check, _time, ct).ConfigureAwait(false);
                var silence = _time.GetElapsedTime(Volatile.Read(ref _lastHeard));
                if (silence >= _options.HeartbeatTimeout)
                {
                    EslLog.HeartbeatMissed(_logger, _options.ToString(), silence);
                    connection.Abort(new TimeoutException($"no HEARTBEAT from FreeSWITCH for {silence}"));
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void FailJobs(Exception error)
    {
        foreach (var id in _jobs.Keys)
        {
            if (_jobs.TryRemove(id, out var job))
            {
                job.TrySetException(error);
            }
        }
    }

    /// <summary>Says <c>exit</c> when connected, closes the link and stops reconnecting.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        if (_connection is { IsClosed: false } connection)
        {
            try
            {
                await connection.SendAsync("exit").WaitAsync(TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is EslException or TimeoutException)
            {
                // Leaving anyway.
            }
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? run;
        lock (_lock)
        {
            run = _run;
        }
        if (run is not null)
        {
            await run.ConfigureAwait(false);
        }
        _firstConnection.TrySetException(new ObjectDisposedException(nameof(EslClient)));
        _events.Writer.TryComplete();
        _stopping.Dispose();
    }
}
