using System.Net;
using System.Net.Sockets;
using System.Text;
using Voice.Control.FreeSwitch;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.FreeSwitch;

/// <summary>
/// The outbound Event Socket listener against peers that are not FreeSWITCH: anyone who can reach its port can
/// connect. Whatever they send, the listener reads a bounded amount, closes them, logs a bounded line, and still
/// takes the next real call.
/// </summary>
public class EslOutboundHostileTests
{
    private TestLog.Capture _log = null!;
    private EslOutboundListener _listener = null!;

    private void Listen(EslOutboundOptions? options = null)
    {
        _log = new TestLog.Capture();
        _listener = new EslOutboundListener(options ?? new EslOutboundOptions { Port = 0 }, _log.For<EslOutboundListener>());
        _listener.Start();
    }

    [TearDown]
    public async Task Stop()
    {
        if (_listener is not null)
        {
            await _listener.DisposeAsync();
        }
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _listener.LocalEndPoint.Port));
        return socket;
    }

    /// <summary>Reads until the listener closes the connection (0 bytes or a reset); returns what it sent.</summary>
    private static async Task<string> ReadUntilClosedAsync(Socket socket, TimeSpan? within = null)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(within ?? Timeouts.Step);
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0)
                {
                    break;
                }
                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            // reset: closed too
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the listener kept the connection open; it sent '{Encoding.UTF8.GetString(received.ToArray())}'");
        }
        return Encoding.UTF8.GetString(received.ToArray());
    }

    private static async Task SendAsync(Socket socket, string text)
    {
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), SocketFlags.None);
        }
        catch (SocketException)
        {
            // closed by the listener already
        }
    }

    private static string ConnectReply(string uniqueId) =>
        $"Content-Type: command/reply\nReply-Text: +OK\nEvent-Name: CHANNEL_DATA\nUnique-ID: {uniqueId}\nChannel-Name: sofia/mrf/x\n\n";

    [Test]
    public async Task Ten_16_MB_connect_replies_are_refused_at_their_header_and_memory_stays_bounded()
    {
        Listen();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var peers = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            var socket = await ConnectAsync();
            await SendAsync(socket, "Content-Type: command/reply\nReply-Text: +OK\nContent-Length: 16777216\n\n");
            var chunk = new byte[1024 * 1024];
            for (var i = 0; i < 16; i++)
            {
                try
                {
                    await socket.SendAsync(chunk, SocketFlags.None);
                }
                catch (SocketException)
                {
                    break;
                }
            }
            return socket;
        }));
        foreach (var socket in peers)
        {
            using (socket)
            {
                Assert.That(await ReadUntilClosedAsync(socket), Is.EqualTo("connect\n\n"), "nothing but connect, then closed");
            }
        }
        var growth = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.That(growth, Is.LessThan(64L * 1024 * 1024), $"{growth / 1024 / 1024} MB kept after ten 16 MB replies");
        await Poll.UntilAsync(() => _log.Lines.Count(l => l.Contains("Content-Length 16777216 is over the limit", StringComparison.Ordinal)) >= 10);
        Assert.That(_log.Lines.Max(l => l.Length), Is.LessThan(1024), "every log line is a bounded preview");
    }

    [Test]
    public async Task An_endless_header_block_is_cut_off_and_logged_as_a_bounded_preview()
    {
        Listen();
        using var socket = await ConnectAsync();
        var line = Encoding.ASCII.GetBytes("X-Filler: " + new string('a', 1000) + "\n");
        for (var i = 0; i < 16 * 1024; i++)
        {
            try
            {
                await socket.SendAsync(line, SocketFlags.None);
            }
            catch (SocketException)
            {
                break;
            }
        }
        await ReadUntilClosedAsync(socket);
        await Poll.UntilAsync(() => _log.Lines.Any(l => l.Contains("no blank line ends the header block within 65536 bytes", StringComparison.Ordinal)));
        Assert.That(_log.Lines.Max(l => l.Length), Is.LessThan(1024));
    }

    [TestCase("has space")]
    [TestCase("line%0Abreak")]
    [TestCase("")]
    public async Task A_session_whose_Unique_ID_could_break_a_command_is_closed_not_held(string uniqueId)
    {
        Listen();
        var peers = new List<Socket>();
        for (var i = 0; i < 50; i++)
        {
            var socket = await ConnectAsync();
            await SendAsync(socket, ConnectReply(uniqueId));
            peers.Add(socket);
        }
        foreach (var socket in peers)
        {
            using (socket)
            {
                Assert.That(await ReadUntilClosedAsync(socket), Is.EqualTo("connect\n\n"), "no command with the broken id, and closed");
            }
        }
        Assert.That(_listener.Sessions.TryRead(out _), Is.False, "no session handed out");
        await Poll.UntilAsync(() => AcceptedSocketsOpen() == 0);
    }

    [Test]
    public async Task A_peer_that_sends_one_byte_at_a_time_and_never_finishes_is_closed_after_the_handshake_timeout()
    {
        Listen(new EslOutboundOptions { Port = 0, CommandTimeout = TimeSpan.FromMilliseconds(500) });
        using var socket = await ConnectAsync();
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            var text = Encoding.ASCII.GetBytes("Content-Type: command/reply\nReply-Text: +OK\nX-Slow: " + new string('z', 10_000));
            foreach (var b in text)
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }
                try
                {
                    await socket.SendAsync(new[] { b }, SocketFlags.None);
                }
                catch (SocketException)
                {
                    return;
                }
                await Task.Delay(20);
            }
        });
        Assert.That(await ReadUntilClosedAsync(socket), Is.EqualTo("connect\n\n"));
        await stop.CancelAsync();
        await trickle.Within();
    }

    [Test]
    public async Task A_connection_flood_is_bounded_every_socket_is_closed_and_a_real_call_still_gets_through()
    {
        Listen(new EslOutboundOptions { Port = 0, CommandTimeout = TimeSpan.FromSeconds(1), MaxPendingConnections = 16 });
        var flood = new List<Socket>();
        for (var i = 0; i < 200; i++)
        {
            flood.Add(await ConnectAsync());
        }
        foreach (var socket in flood)
        {
            using (socket)
            {
                await ReadUntilClosedAsync(socket);
            }
        }
        await Poll.UntilAsync(() => AcceptedSocketsOpen() == 0);
        Assert.That(_log.Lines.Count(l => l.Contains("closing new ones", StringComparison.Ordinal)), Is.InRange(1, 10), "a flood is logged once a second, not per connection");

        var peer = new FakeEslPeer(await ConnectAsync());
        await using (peer)
        {
            var replay = new EslReplay(peer, EslReplay.FromTrace(Path.Combine(Captures.FreeSwitchDir, "esl-outbound-fsmrf-json.txt")));
            await replay.PlayAsync(2);
            await using var session = await _listener.Sessions.ReadAsync().AsTask().Within();
            Assert.That(session.UniqueId, Is.EqualTo("e03f5bd1-3032-47f5-943e-b05d95217ff5"));
            Assert.That(AcceptedSocketsOpen(), Is.EqualTo(1), "the session's own connection is open, and counted");
        }
    }

    /// <summary>
    /// The connections the listener accepted whose sockets this process still holds open (Linux only): sockets of
    /// this process, from /proc/self/fd, whose local port is the listener's. Counting every descriptor instead
    /// made these tests fail after tests whose clients were still reconnecting in the background.
    /// </summary>
    private int AcceptedSocketsOpen()
    {
        Assume.That(Directory.Exists("/proc/self/fd"), "counts open sockets through /proc");
        var held = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    held.Add(target["socket:[".Length..^1]);
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }
        var port = _listener.LocalEndPoint.Port.ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
        var open = 0;
        foreach (var table in new[] { "/proc/self/net/tcp", "/proc/self/net/tcp6" })
        {
            foreach (var line in File.Exists(table) ? File.ReadLines(table).Skip(1) : [])
            {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                const string listening = "0A";
                if (fields.Length > 9 && fields[1].EndsWith(":" + port, StringComparison.Ordinal) && fields[3] != listening && held.Contains(fields[9]))
                {
                    open++;
                }
            }
        }
        return open;
    }
}
