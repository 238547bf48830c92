using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Net;

namespace Voice.Control.FreeSwitch;

/// <summary>Where the outbound listener accepts FreeSWITCH's connections (the dialplan's <c>socket host:port async full</c>).</summary>
public sealed record EslOutboundOptions
{
    public IPAddress ListenAddress { get; init; } = IPAddress.Loopback;

    /// <summary>0 picks a free port; see <see cref="EslOutboundListener.LocalEndPoint"/>.</summary>
    public int Port { get; init; } = 8086;

    /// <summary>Longest wait for each reply on an outbound session, <c>connect</c> included.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Sessions accepted but not yet taken from <see cref="EslOutboundListener.Sessions"/>.</summary>
    public int Backlog { get; init; } = 256;

    /// <summary>What a session may receive once its owner has taken it (<see cref="EslOutboundSession.SubscribeAsync"/>).</summary>
    public EslLimits Limits { get; init; } = EslLimits.Default;

    /// <summary>
    /// What a connection may send before its owner has taken it: the <c>connect</c> reply (the channel data,
    /// a few KB) and nothing large. Anyone who can reach the port can connect, so until then it is a stranger.
    /// </summary>
    public EslLimits HandshakeLimits { get; init; } = new() { MaxHeaderBytes = 64 * 1024, MaxBodyBytes = 64 * 1024 };

    /// <summary>Connections still in their handshake; more are closed as they arrive.</summary>
    public int MaxPendingConnections { get; init; } = 128;

    /// <summary>
    /// The <c>host:port</c> FreeSWITCH connects to, when it differs from the bound address: behind NAT, in a
    /// container, or when listening on every address. Endpoint INVITEs carry it in <c>X-esl-outbound</c>.
    /// </summary>
    public string? AdvertisedAddress { get; init; }
}

/// <summary>
/// Accepts the connections FreeSWITCH opens from its dialplan <c>socket</c> application, answers each with
/// <c>connect</c>, and hands the resulting sessions out in arrival order.
/// </summary>
public sealed class EslOutboundListener : IAsyncDisposable
{
    private int _disposed;
    private readonly EslOutboundOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Channel<EslOutboundSession> _sessions;
    private Task? _accept;
    private int _pending;
    private long _lastRefusalLogged;

    public EslOutboundListener(EslOutboundOptions options, ILogger<EslOutboundListener>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger ?? NullLogger<EslOutboundListener>.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _socket = new Socket(options.ListenAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // A reader waiting for a session continues on the thread that finished its handshake (the connection's read
        // loop), as code awaiting a session's replies does, instead of on a pool thread woken for it.
        _sessions = Channel.CreateBounded<EslOutboundSession>(new BoundedChannelOptions(options.Backlog) { SingleWriter = false, AllowSynchronousContinuations = true });
    }

    /// <summary>
    /// Sessions whose <c>connect</c> succeeded, in arrival order. A reader that waits continues on the new connection's
    /// read loop: it must not block there.
    /// </summary>
    public ChannelReader<EslOutboundSession> Sessions => _sessions.Reader;

    /// <summary>The bound address; valid after <see cref="Start"/>.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Binds and starts accepting.</summary>
    /// <exception cref="SocketException">The address is taken or not available on this host.</exception>
    public void Start()
    {
        _socket.Bind(new IPEndPoint(_options.ListenAddress, _options.Port));
        _socket.Listen(_options.Backlog);
        _accept = AcceptLoopAsync(_stopping.Token);
        _logger.LogInformation("Listening for FreeSWITCH outbound Event Socket connections on {EndPoint}", LocalEndPoint);
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
            if (Interlocked.Increment(ref _pending) > _options.MaxPendingConnections)
            {
                Interlocked.Decrement(ref _pending);
                accepted.Dispose();
                LogRefusal();
                continue;
            }
            _ = HandshakeAsync(accepted, ct);
        }
        _sessions.Writer.TryComplete();
    }

    private async Task HandshakeAsync(Socket accepted, CancellationToken ct)
    {
        try
        {
            var session = await EslOutboundSession.AcceptAsync(accepted, _options.HandshakeLimits, _options.Limits, _logger, _time, _options.CommandTimeout, ct).ConfigureAwait(false);
            if (!_sessions.Writer.TryWrite(session))
            {
                _logger.LogWarning("Outbound Event Socket backlog full; dropping call {Uuid}", session.UniqueId);
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is EslException or TimeoutException or OperationCanceledException or IOException or SocketException)
        {
            _logger.LogWarning("An outbound Event Socket connection failed before its channel data arrived: {Error}", WireText.Preview(ex.Message, 300));
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>A flood is logged once a second at most, not once per connection.</summary>
    private void LogRefusal()
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastRefusalLogged);
        if ((last == 0 || _time.GetElapsedTime(last, now) >= TimeSpan.FromSeconds(1)) && Interlocked.CompareExchange(ref _lastRefusalLogged, now, last) == last)
        {
            _logger.LogWarning("More than {Max} outbound Event Socket connections are waiting for their channel data; closing new ones", _options.MaxPendingConnections);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        if (_accept is not null)
        {
            await _accept.ConfigureAwait(false);
        }
        while (_sessions.Reader.TryRead(out var session))
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
        _stopping.Dispose();
    }
}
