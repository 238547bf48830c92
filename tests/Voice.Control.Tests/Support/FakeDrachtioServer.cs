using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Voice.Control.Drachtio;

namespace Voice.Control.Tests.Support;

/// <summary>
/// A scripted drachtio-server on loopback (the shape of Npgsql's PgServerMock): each accepted connection is a
/// <see cref="FakeDrachtioPeer"/> that a test drives frame by frame. Optionally TLS.
/// </summary>
public sealed class FakeDrachtioServer : IAsyncDisposable
{
    public const string Secret = "cymru";

    private readonly TcpListener _listener;
    private readonly X509Certificate2? _certificate;
    private readonly Channel<FakeDrachtioPeer> _accepted = Channel.CreateUnbounded<FakeDrachtioPeer>();
    private readonly List<FakeDrachtioPeer> _peers = [];
    private readonly Task _acceptLoop;
    private int _connections;

    private FakeDrachtioServer(X509Certificate2? certificate)
    {
        _certificate = certificate;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    public static FakeDrachtioServer Start(X509Certificate2? certificate = null) => new(certificate);

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many TCP connections the client has opened so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Client options for this server: short reconnect delays, pings off unless a test turns them on.</summary>
    public DrachtioClientOptions ClientOptions() => new()
    {
        Host = "127.0.0.1",
        Port = Port,
        Secret = Secret,
        PingInterval = TimeSpan.FromHours(1),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(20),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        TransactionTimeout = TimeSpan.FromSeconds(2),
    };

    public async Task<FakeDrachtioPeer> AcceptAsync(TimeSpan? timeout = null) =>
        await _accepted.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? Timeouts.Step);

    /// <summary>Accepts a connection and answers its <c>authenticate</c> as drachtio-server 0.9.10 did.</summary>
    public async Task<FakeDrachtioPeer> AcceptAuthenticatedAsync()
    {
        var peer = await AcceptAsync();
        await peer.AuthenticateAsync();
        return peer;
    }

    /// <summary>Asserts that no further connection arrives within <paramref name="wait"/>.</summary>
    public async Task AssertNoConnectionAsync(TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var peer = await _accepted.Reader.ReadAsync(cts.Token);
            Assert.Fail($"the client opened another connection (#{Connections}) but should not have");
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync();
                socket.NoDelay = true;
                Interlocked.Increment(ref _connections);
                Stream stream = new NetworkStream(socket, ownsSocket: true);
                if (_certificate is not null)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                    try
                    {
                        await ssl.AuthenticateAsServerAsync(_certificate);
                    }
                    catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
                    {
                        // A client that does not speak TLS: count the connection but hand out nothing.
                        await ssl.DisposeAsync();
                        continue;
                    }
                    stream = ssl;
                }
                var peer = new FakeDrachtioPeer(stream);
                lock (_peers)
                {
                    _peers.Add(peer);
                }
                _accepted.Writer.TryWrite(peer);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _acceptLoop;
        List<FakeDrachtioPeer> peers;
        lock (_peers)
        {
            peers = [.. _peers];
        }
        foreach (var peer in peers)
        {
            await peer.DisposeAsync();
        }
    }
}
