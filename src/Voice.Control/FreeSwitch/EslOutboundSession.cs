using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Voice.Control.Net;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// One call FreeSWITCH handed us through its dialplan <c>socket</c> application: the channel data from
/// <c>connect</c>, the call's own events (<c>event json</c> + <c>filter Unique-ID</c>), applications run with
/// <c>sendmsg</c> and awaited to their CHANNEL_EXECUTE_COMPLETE, hangup, and the disconnect notice.
/// </summary>
/// <remarks>
/// Replies and completions finish the tasks awaiting them on the connection's read loop: code that continues
/// after awaiting a session must not block. <see cref="EventReceived"/> handlers run on a loop of their own.
/// </remarks>
public sealed class EslOutboundSession : IAsyncDisposable
{
    /// <summary>
    /// What a media endpoint needs to hear about: an application finished, a key pressed, the hangup and its cause.
    /// Every channel event carries all of the channel's variables (about 10 KB of JSON), so each event left out
    /// saves its parsing and a wake-up; CHANNEL_EXECUTE and PLAYBACK_START/STOP alone were four per message played.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultEvents = ["CHANNEL_EXECUTE_COMPLETE", "DTMF", "CHANNEL_HANGUP"];

    private readonly EslConnection _connection;
    private readonly EslLimits _limits;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _commandTimeout;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<EslEvent>> _executing = new(StringComparer.Ordinal);
    private readonly Channel<EslEvent> _events = Channel.CreateUnbounded<EslEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<string?> _hungUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _subscribers = new();
    private EventHandler<EslEvent>? _eventReceived;
    // The loop that raises EventReceived, started by its first subscriber: a call nobody listens to costs no queue,
    // and no thread wake-up per event.
    private volatile Task? _pump;
    private int _disposed;

    private EslOutboundSession(EslConnection connection, EslEvent channel, EslLimits limits, ILogger logger, TimeProvider time, TimeSpan commandTimeout)
    {
        _connection = connection;
        _limits = limits;
        ChannelData = channel;
        UniqueId = channel.UniqueId is { } id && IsChannelId(id)
            ? id
            : throw new EslProtocolException($"the connect reply's Unique-ID '{WireText.Preview(channel.UniqueId ?? string.Empty, 64)}' is not a channel id");
        _logger = logger;
        _time = time;
        _commandTimeout = commandTimeout;
        _ = WatchCloseAsync();
    }

    /// <summary>The channel as <c>connect</c> described it: every header and channel variable, decoded.</summary>
    public EslEvent ChannelData { get; }

    /// <summary>FreeSWITCH's channel UUID (<c>Unique-ID</c>).</summary>
    public string UniqueId { get; }

    /// <summary>Where the connection came from, for logs.</summary>
    public string RemoteName => _connection.Name;

    /// <summary>
    /// Raised for each event of this call that arrives while a handler is subscribed, in order, off the read loop
    /// (a slow handler delays later events, never the connection).
    /// </summary>
    public event EventHandler<EslEvent>? EventReceived
    {
        add
        {
            lock (_subscribers)
            {
                _eventReceived += value;
                _pump ??= PumpEventsAsync();
            }
        }
        remove
        {
            lock (_subscribers)
            {
                _eventReceived -= value;
            }
        }
    }

    /// <summary>Completes when the call is over, with FreeSWITCH's hangup cause when it said one.</summary>
    public Task<string?> HungUp => _hungUp.Task;

    public bool IsClosed => _connection.IsClosed;

    /// <summary>
    /// Completes when the socket has closed (FreeSWITCH's FIN after the disconnect notice, or a lost connection);
    /// code awaiting it continues on the connection's read loop and must not block.
    /// </summary>
    public Task Closed => _connection.Closed;

    /// <summary>
    /// Answers FreeSWITCH's new connection: sends <c>connect</c> and reads the channel data. The caller then
    /// subscribes (<see cref="SubscribeAsync"/>).
    /// </summary>
    /// <remarks>
    /// Until <see cref="SubscribeAsync"/> the connection is held to <paramref name="handshakeLimits"/>: a peer that
    /// is not FreeSWITCH cannot make the listener buffer more than that while its session waits to be paired.
    /// </remarks>
    internal static async Task<EslOutboundSession> AcceptAsync(
        System.Net.Sockets.Socket socket, EslLimits handshakeLimits, EslLimits limits, ILogger logger, TimeProvider time, TimeSpan commandTimeout, CancellationToken ct)
    {
        EslOutboundSession? session = null;
        var early = new Queue<EslMessage>();
        var connection = EslConnection.Start(
            socket, socket.RemoteEndPoint?.ToString() ?? "FreeSWITCH", handshakeLimits, logger,
            message =>
            {
                // Until the session exists, messages wait in order; the gate keeps them ahead of later ones.
                lock (early)
                {
                    if (session is { } ready)
                    {
                        ready.OnMessage(message);
                    }
                    else
                    {
                        early.Enqueue(message);
                    }
                }
            },
            "connect", out var connected);
        try
        {
            var reply = await connected.WaitAsync(commandTimeout, time, ct).ConfigureAwait(false);
            if (reply["Event-Name"] is null)
            {
                throw new EslProtocolException($"the connect reply carries no channel data: {reply}");
            }
            var created = new EslOutboundSession(connection, EslEvent.Parse(reply), limits, logger, time, commandTimeout);
            lock (early)
            {
                while (early.TryDequeue(out var message))
                {
                    created.OnMessage(message);
                }
                session = created;
            }
            return created;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Subscribes to this call's events as JSON and filters them to its Unique-ID (the drachtio-fsmrf style;
    /// <c>myevents</c> would do the same in one command, in plain format).
    /// </summary>
    public async Task SubscribeAsync(IEnumerable<string>? eventNames = null, CancellationToken ct = default)
    {
        var names = (eventNames ?? DefaultEvents).ToList();
        foreach (var name in names)
        {
            EslCommands.RequireToken(name, nameof(eventNames));
        }
        // Taken by its owner: from now on events of any size the call may have are read.
        _connection.Limits = _limits;
        // Both in one write: FreeSWITCH reads them together, and the replies come back in one round trip.
        string[] commands = ["event json " + string.Join(' ', names), "filter Unique-ID " + UniqueId];
        var replies = await _connection.SendAllAsync(commands, ct).WaitAsync(_commandTimeout, _time, ct).ConfigureAwait(false);
        for (var i = 0; i < commands.Length; i++)
        {
            ThrowIfRefused(commands[i], replies[i]);
        }
    }

    /// <summary>
    /// Asks FreeSWITCH to keep the socket open for <paramref name="seconds"/> after hangup, so the last events
    /// (CHANNEL_HANGUP_COMPLETE with its variables) still arrive.
    /// </summary>
    public Task LingerAsync(int seconds, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seconds);
        return CommandAsync("linger " + seconds.ToString(CultureInfo.InvariantCulture), ct);
    }

    /// <summary>
    /// Runs a dialplan application on the call and completes with its CHANNEL_EXECUTE_COMPLETE. Cancelling
    /// stops the application on the wire (<c>uuid_break</c>) and then throws.
    /// </summary>
    /// <exception cref="EslConnectionLostException">The call hung up (or the socket closed) before the application completed.</exception>
    /// <exception cref="EslCommandException">FreeSWITCH refused to run it.</exception>
    public async Task<EslEvent> ExecuteAsync(string application, string? argument = null, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var eventUuid = CorrelationIds.New();
        var command = EslCommands.Execute(UniqueId, application, argument, eventUuid);
        var completion = new TaskCompletionSource<EslEvent>();
        _executing[eventUuid] = completion;
        try
        {
            var reply = await _connection.SendAsync(command.Text, command.Body, CancellationToken.None).WaitAsync(_commandTimeout, _time, CancellationToken.None).ConfigureAwait(false);
            if (reply.IsError)
            {
                throw new EslCommandException($"execute {application}", reply.Summary);
            }
            try
            {
                return await completion.Task.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await BreakAsync().ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _executing.TryRemove(eventUuid, out _);
        }
    }

    /// <summary>Stops what the channel is playing or collecting now (<c>uuid_break &lt;uuid&gt; all</c>).</summary>
    public async Task BreakAsync()
    {
        try
        {
            await ApiAsync($"uuid_break {UniqueId} all", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is EslException or TimeoutException)
        {
            // The caller is cancelling anyway; a break that cannot be delivered must not replace that with another error.
            _logger.LogDebug("uuid_break {Uuid}: {Error}", UniqueId, ex.Message);
        }
    }

    /// <summary>Runs <c>api &lt;command&gt;</c> over this session's socket.</summary>
    public async Task<string> ApiAsync(string command, CancellationToken ct = default)
    {
        EslCommands.RequireOneLine(command, nameof(command));
        var reply = await _connection.SendAsync("api " + command, ct).WaitAsync(_commandTimeout, _time, ct).ConfigureAwait(false);
        return reply.IsError ? throw new EslCommandException("api " + command, reply.Summary) : reply.BodyText;
    }

    /// <summary>Hangs the call up with <paramref name="cause"/>; FreeSWITCH then sends BYE and closes the socket.</summary>
    public Task HangupAsync(string cause = "NORMAL_CLEARING", CancellationToken ct = default) =>
        CommandAsync(EslCommands.Hangup(UniqueId, cause), ct);

    private async Task CommandAsync(string command, CancellationToken ct)
    {
        ThrowIfRefused(command, await _connection.SendAsync(command, ct).WaitAsync(_commandTimeout, _time, ct).ConfigureAwait(false));
    }

    private static void ThrowIfRefused(string command, EslMessage reply)
    {
        if (reply.IsError)
        {
            throw new EslCommandException(command.Split('\n')[0], reply.Summary);
        }
    }

    /// <summary>A UUID as FreeSWITCH writes it, or at least a token that cannot break a command line.</summary>
    private static bool IsChannelId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Runs on the read loop.</summary>
    private void OnMessage(EslMessage message)
    {
        switch (message.ContentType)
        {
            case EslContentTypes.EventJson or EslContentTypes.EventPlain:
                var e = EslEvent.Parse(message);
                if (e.Name == "CHANNEL_EXECUTE_COMPLETE" && e["Application-UUID"] is { } id && _executing.TryRemove(id, out var completion))
                {
                    completion.TrySetResult(e);
                }
                else if (e.Name is "CHANNEL_HANGUP" or "CHANNEL_HANGUP_COMPLETE")
                {
                    _hungUp.TrySetResult(e["Hangup-Cause"]);
                }
                // Completions nobody waits for (the socket app's own at hangup) still reach subscribers.
                if (_pump is not null)
                {
                    _events.Writer.TryWrite(e);
                }
                break;
            case EslContentTypes.DisconnectNotice when message["Content-Disposition"] == "linger":
                _logger.LogDebug("FreeSWITCH lingers on {Uuid} for {Seconds} s", UniqueId, message["Linger-Time"]);
                break;
            case EslContentTypes.DisconnectNotice:
                _hungUp.TrySetResult(null);
                break;
        }
    }

    private async Task PumpEventsAsync()
    {
        await foreach (var e in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                _eventReceived?.Invoke(this, e);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "An EventReceived handler of call {Uuid} failed on {Event}", UniqueId, e.Name);
            }
        }
    }

    private async Task WatchCloseAsync()
    {
        var reason = await _connection.Closed.ConfigureAwait(false);
        _hungUp.TrySetResult(null);
        var lost = new EslConnectionLostException($"call {UniqueId} ended before the application completed", reason);
        foreach (var id in _executing.Keys)
        {
            if (_executing.TryRemove(id, out var completion))
            {
                completion.TrySetException(lost);
            }
        }
        _events.Writer.TryComplete();
    }

    /// <summary>Closes the socket (FreeSWITCH hangs the call up if it is still up) and waits for event delivery to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _connection.DisposeAsync().ConfigureAwait(false);
        Task? pump;
        lock (_subscribers)
        {
            // No loop starts after this: the connection is closed and the event queue complete.
            pump = _pump ??= Task.CompletedTask;
        }
        await pump.ConfigureAwait(false);
    }
}
