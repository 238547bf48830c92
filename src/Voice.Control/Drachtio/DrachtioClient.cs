using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Net;
using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>
/// The drachtio-server control client: one authenticated connection at a time, kept alive with pings and
/// re-established with exponential back-off and jitter; outgoing calls (<see cref="CreateUacAsync"/>), their
/// dialogs, and registrations with a PBX (<see cref="RegisterAsync"/>).
/// </summary>
/// <remarks>
/// Replies and SIP responses complete the tasks awaiting them on the connection's read loop, without a hand-off
/// to the thread pool: code that continues after awaiting this client runs there until its next await, so it must
/// not block (move blocking work to <see cref="Task.Run(Action)"/>). This saves a thread wake-up per message.
/// </remarks>
public sealed partial class DrachtioClient : IAsyncDisposable, IReconnectingLink<DrachtioConnection>
{
    private readonly DrachtioClientOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, SipDialog> _dialogs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SipDialog> _orphans = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<SipRegistration, byte> _registrations = new();
    private readonly TaskCompletionSource _firstConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _startLock = new();
    private volatile DrachtioConnection? _connection;
    private Task? _run;
    private int _connectionCount;
    private int _disposed;

    public DrachtioClient(DrachtioClientOptions options, ILogger<DrachtioClient>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger<DrachtioClient>.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Raised after every successful authentication, the first and each reconnect.</summary>
    public event EventHandler<DrachtioConnectedEventArgs>? Connected;

    /// <summary>Raised when an authenticated link is lost or closed.</summary>
    public event EventHandler<DrachtioDisconnectedEventArgs>? Disconnected;

    public DrachtioClientOptions Options => _options;

    public bool IsConnected => _connection is { IsClosed: false };

    /// <summary>Why the last link was lost or the last attempt to connect failed (a bounded preview); null while connected.</summary>
    public string? LastFailure { get; private set; }

    private bool _connectedBefore;

    /// <summary>What the server reported at the last authentication; null before the first.</summary>
    public DrachtioServerInfo? Server { get; private set; }

    /// <summary>The dialogs this client currently controls.</summary>
    public IReadOnlyCollection<SipDialog> Dialogs => (IReadOnlyCollection<SipDialog>)_dialogs.Values;

    /// <summary>Creates the client nonce for digest answers; tests replace it to reproduce captured exchanges.</summary>
    internal Func<string> CnonceFactory { get; set; } = DigestAuthenticator.NewCnonce;

    internal ILogger Logger => _logger;

    internal TimeProvider Time => _time;

    /// <summary>
    /// Connects and authenticates, retrying transient failures with back-off until <paramref name="ct"/> is
    /// cancelled; afterwards the client reconnects by itself whenever the link is lost.
    /// </summary>
    /// <exception cref="DrachtioAuthenticationException">The secret was refused; the client does not retry.</exception>
    public Task ConnectAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        lock (_startLock)
        {
            _run ??= Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        }
        return _firstConnection.Task.WaitAsync(ct);
    }

    /// <summary>The live connection. No disposed check: shutdown itself still sends BYE and REGISTER over it.</summary>
    internal DrachtioConnection RequireConnection()
    {
        return _connection is { IsClosed: false } connection ? connection : throw DrachtioConnectionLostException.NotConnected();
    }

    private Task RunAsync(CancellationToken stopping) => ReconnectLoop.RunAsync(this, stopping);

    TimeProvider IReconnectingLink<DrachtioConnection>.Time => _time;

    Task<DrachtioConnection> IReconnectingLink<DrachtioConnection>.OpenAsync(CancellationToken stopping) => OpenAndAuthenticateAsync(stopping);

    bool IReconnectingLink<DrachtioConnection>.IsFatal(Exception error) => error is DrachtioAuthenticationException;

    void IReconnectingLink<DrachtioConnection>.OnFatal(Exception error)
    {
        DrachtioLog.AuthenticationFailed(_logger, _options.ToString(), error.Message);
        _firstConnection.TrySetException(error);
        Raise(Disconnected, new DrachtioDisconnectedEventArgs(error, willReconnect: false));
    }

    void IReconnectingLink<DrachtioConnection>.OnUp(DrachtioConnection connection)
    {
        _connection = connection;
        LastFailure = null;
        DrachtioLog.Connected(_logger, Server!.Version, string.Join(",", Server.SipAddresses));
        _firstConnection.TrySetResult();
        Raise(Connected, new DrachtioConnectedEventArgs(Server, _connectedBefore));
        _connectedBefore = true;
        _ = HangUpOrphansAsync(connection);
        if (_inviteHandler is not null)
        {
            _ = RouteInvitesAsync(connection);
        }
        ResumeRegistrations();
    }

    Task IReconnectingLink<DrachtioConnection>.WhileUpAsync(DrachtioConnection connection, CancellationToken ct) => PingLoopAsync(connection, ct);

    void IReconnectingLink<DrachtioConnection>.OnDown(DrachtioConnection connection, Exception? failure, bool stopping)
    {
        _connection = null;
        LastFailure = WireText.Preview(failure?.Message ?? "closed", 300);
        var lost = DrachtioConnectionLostException.Lost(failure);
        if (!stopping)
        {
            DrachtioLog.ConnectionLost(_logger, failure?.Message ?? "closed");
        }
        OrphanDialogs(connection);
        AbandonInvites(connection);
        Raise(Disconnected, new DrachtioDisconnectedEventArgs(lost, willReconnect: !stopping));
    }

    void IReconnectingLink<DrachtioConnection>.OnConnectFailed(Exception? failure, int failures, TimeSpan delay)
    {
        LastFailure = WireText.Preview(failure?.Message ?? "unknown error", 300);
        DrachtioLog.ConnectFailed(_logger, Backoff.LogLevelFor(failures), _options.ToString(), failure?.Message ?? "unknown error", delay);
    }

    TimeSpan IReconnectingLink<DrachtioConnection>.NextDelay(int failures) => NextReconnectDelay(failures);

    Exception IReconnectingLink<DrachtioConnection>.Disposed() => new DrachtioConnectionLostException("drachtio client disposed");

    private async Task<DrachtioConnection> OpenAndAuthenticateAsync(CancellationToken stopping)
    {
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        var id = Interlocked.Increment(ref _connectionCount).ToString(CultureInfo.InvariantCulture);
        DrachtioConnection? connection = null;
        try
        {
            using var scope = _logger.BeginScope("drachtio {Endpoint} connection {ConnectionId}", _options.ToString(), id);
            connection = await DrachtioConnection.OpenAsync(_options, id, _logger, OnMessage, linked.Token).ConfigureAwait(false);
            var reply = await connection
                .SendRequestAsync($"authenticate|{_options.Secret}|{string.Join(",", _options.Tags)}", ct: linked.Token)
                .ConfigureAwait(false);
            if (!reply.IsOk)
            {
                throw new DrachtioAuthenticationException($"drachtio-server refused the secret: {reply.FailureReason}");
            }
            Server = DrachtioServerInfo.FromAuthenticateReply(reply);
            return connection;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            throw new TimeoutException($"no connection to drachtio-server within {_options.ConnectTimeout}");
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>Pings on an interval; a ping not answered in time closes the link so it is reconnected.</summary>
    private async Task PingLoopAsync(DrachtioConnection connection, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(_options.PingInterval, _time, ct).ConfigureAwait(false);
                try
                {
                    await connection.SendRequestAsync("ping", ct: ct).WaitAsync(_options.PingTimeout, _time, ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    DrachtioLog.PingTimedOut(_logger, _options.PingTimeout);
                    connection.Abort(new TimeoutException($"drachtio-server did not answer a ping within {_options.PingTimeout}"));
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (DrachtioConnectionLostException)
        {
            // The read loop reports the reason.
        }
    }

    /// <summary>Exponential back-off with "equal jitter": half the delay fixed, half random.</summary>
    internal TimeSpan NextReconnectDelay(int failures) => Backoff.Next(_options.ReconnectMinDelay, _options.ReconnectMaxDelay, failures);

    private void OrphanDialogs(DrachtioConnection connection)
    {
        foreach (var dialog in _dialogs.Values)
        {
            if (!ReferenceEquals(dialog.Connection, connection))
            {
                continue;
            }
            _dialogs.TryRemove(dialog.Id, out _);
            if (dialog.TryTerminate(DialogTerminatedBy.ConnectionLost, "connection to drachtio-server lost", null, _time.GetUtcNow(), _logger))
            {
                _orphans[dialog.Id] = dialog;
            }
        }
    }

    /// <summary>
    /// drachtio-server keeps a dialog whose controlling connection dropped; once the link is back, hang up every
    /// dialog we lost control of, so that no call stays half open.
    /// </summary>
    private async Task HangUpOrphansAsync(DrachtioConnection connection)
    {
        foreach (var dialog in _orphans.Values)
        {
            _orphans.TryRemove(dialog.Id, out _);
            DrachtioLog.HangingUpOrphan(_logger, dialog.Id);
            try
            {
                if (dialog.FinalResponse is not null)
                {
                    await HangUpOrphanAsync(connection, dialog).ConfigureAwait(false);
                }
                else if (dialog.InviteTransactionId is { } txnId)
                {
                    // Still ringing when the link dropped: end the INVITE, which drachtio-server still holds.
                    await SendCancelAsync(connection, txnId, dialog.RequestUri).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is DrachtioException or SipFailureException or TimeoutException or OperationCanceledException)
            {
                DrachtioLog.OrphanHangupFailed(_logger, dialog.Id, ex.Message);
            }
        }
    }

    /// <summary>
    /// BYE in the dialog, as drachtio-server still holds it after a dropped link; when the server refuses because it
    /// restarted and forgot the dialog, the same BYE built from our dialog state, so the far end's leg still ends.
    /// </summary>
    private async Task HangUpOrphanAsync(DrachtioConnection connection, SipDialog dialog)
    {
        SipMessage final;
        try
        {
            final = await SendInDialogAsync(connection, dialog, "BYE", SipMessageBuilder.Request("BYE", "sip:placeholder").Build(), CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (DrachtioRequestException refused)
        {
            DrachtioLog.RebuildingBye(_logger, dialog.Id, refused.Message);
            final = await SendByeFromStateAsync(connection, dialog).ConfigureAwait(false);
        }
        DrachtioLog.OrphanHungUp(_logger, dialog.Id, final.StatusCode, final.ReasonPhrase ?? string.Empty);
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "A {Event} handler threw", typeof(T).Name);
        }
    }

    /// <summary>
    /// Unregisters, hangs up every dialog, and closes the link. Dialogs and registrations get a bounded time
    /// (<see cref="DrachtioClientOptions.TransactionTimeout"/>) so shutdown cannot hang on a silent far end.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        using var bounded = new CancellationTokenSource(_options.TransactionTimeout, _time);
        var shutdown = new List<Task>();
        shutdown.AddRange(_registrations.Keys.Select(r => r.StopAsync(bounded.Token)));
        shutdown.AddRange(_invites.Values.Select(i => RefuseOnShutdownAsync(i, bounded.Token)));
        shutdown.AddRange(_dialogs.Values.Select(d => DestroyDialogAsync(d, bounded.Token)));
        try
        {
            await Task.WhenAll(shutdown).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DrachtioException or SipFailureException or OperationCanceledException or TimeoutException)
        {
            // Best effort: the link may already be gone.
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_run is not null)
        {
            await _run.ConfigureAwait(false);
        }
        _firstConnection.TrySetException(new ObjectDisposedException(nameof(DrachtioClient)));
        _stopping.Dispose();
    }
}
