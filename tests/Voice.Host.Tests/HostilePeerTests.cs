using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Voice.Host.Tests;

/// <summary>
/// The host against drachtio-server, Event Socket and outbound-listener peers that misbehave: garbage, huge
/// lengths, endless headers, one byte at a time, connections dropped as soon as made, floods. The host stays up,
/// <c>/readyz</c> says which link is down and why, memory stays bounded, no socket is left open, and the links
/// come back as soon as the peer behaves.
/// </summary>
[NonParallelizable]
public class HostilePeerTests
{
    /// <summary>What a scripted peer does with each connection the host opens.</summary>
    public enum Mode
    {
        Behave,
        Garbage,
        HugeLength,
        EndlessHeaders,
        ByteAtATime,
        CloseAtOnce,
        RefuseSecret,
    }

    [TestCase(Mode.Garbage, "malformed drachtio frame")]
    [TestCase(Mode.HugeLength, "the length prefix has more than")]
    [TestCase(Mode.EndlessHeaders, "not connected")]
    [TestCase(Mode.CloseAtOnce, "not connected")]
    public async Task A_hostile_drachtio_server_is_reported_and_the_link_recovers_when_it_behaves(Mode mode, string reported) =>
        await HostileLinkAsync(drachtioMode: mode, eslMode: Mode.Behave, "drachtio-server at 127.0.0.1", reported);

    [TestCase(Mode.Garbage, "malformed Event Socket message")]
    [TestCase(Mode.HugeLength, "over the limit")]
    [TestCase(Mode.EndlessHeaders, "no blank line ends the header block")]
    [TestCase(Mode.CloseAtOnce, "not connected")]
    public async Task A_hostile_Event_Socket_is_reported_and_the_link_recovers_when_it_behaves(Mode mode, string reported) =>
        await HostileLinkAsync(drachtioMode: Mode.Behave, eslMode: mode, "the Event Socket at 127.0.0.1", reported);

    [Test]
    public async Task A_refused_secret_stops_one_host_and_is_not_another_hosts_problem()
    {
        await using var refusing = new ScriptedPeer(Mode.RefuseSecret, DrachtioAsync);
        await using var drachtio = new ScriptedPeer(Mode.Behave, DrachtioAsync);
        await using var esl = new ScriptedPeer(Mode.Behave, EventSocketAsync);
        await using var refused = Host(refusing, esl, FreePort());
        await using var fine = Host(drachtio, esl, FreePort());
        using var refusedClient = refused.CreateClient();
        using var fineClient = fine.CreateClient();
        await ReadyzUntilAsync(refusedClient, TimeSpan.FromSeconds(10), (status, problem) =>
            status == HttpStatusCode.ServiceUnavailable && problem?.Contains("incorrect secret", StringComparison.Ordinal) == true, "the refused host says why");
        await WaitForReadyAsync(fineClient, TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task Peers_that_send_one_byte_at_a_time_are_slow_but_fine()
    {
        await using var drachtio = new ScriptedPeer(Mode.ByteAtATime, DrachtioAsync);
        await using var esl = new ScriptedPeer(Mode.ByteAtATime, EventSocketAsync);
        await using var factory = Host(drachtio, esl, FreePort());
        using var client = factory.CreateClient();
        await WaitForReadyAsync(client, TimeSpan.FromSeconds(20));
    }

    [Test]
    public async Task Strangers_on_the_outbound_listener_cannot_take_memory_sockets_or_readiness()
    {
        await using var drachtio = new ScriptedPeer(Mode.Behave, DrachtioAsync);
        await using var esl = new ScriptedPeer(Mode.Behave, EventSocketAsync);
        var port = FreePort();
        var openBefore = OpenDescriptors();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        await using (var factory = Host(drachtio, esl, port))
        {
            using var client = factory.CreateClient();
            await WaitForReadyAsync(client, TimeSpan.FromSeconds(10));

            // Ten 16 MB connect replies, 50 sessions whose Unique-ID could break a command, and a flood of 300.
            var strangers = new List<Task>();
            for (var i = 0; i < 10; i++)
            {
                strangers.Add(StrangerAsync(port, "Content-Type: command/reply\nContent-Length: 16777216\n\n", 16 * 1024 * 1024));
            }
            for (var i = 0; i < 50; i++)
            {
                strangers.Add(StrangerAsync(port, $"Content-Type: command/reply\nEvent-Name: CHANNEL_DATA\nUnique-ID: {(i % 2 == 0 ? "a b" : "a%0Ab")}\n\n", 0));
            }
            for (var i = 0; i < 300; i++)
            {
                strangers.Add(StrangerAsync(port, string.Empty, 0));
            }
            var answered = await client.GetAsync("/readyz");
            Assert.That(answered.StatusCode, Is.EqualTo(HttpStatusCode.OK), "ready while strangers knock");
            await Task.WhenAll(strangers).WaitAsync(TimeSpan.FromSeconds(60));

            var growth = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
            Assert.That(growth, Is.LessThan(64L * 1024 * 1024), $"{growth / 1024 / 1024} MB kept");
            await WaitForReadyAsync(client, TimeSpan.FromSeconds(10));
        }
        await HostFactory.Eventually(() => Task.FromResult(OpenDescriptors() <= openBefore), "every socket closed once the host stopped");
    }

    private static async Task HostileLinkAsync(Mode drachtioMode, Mode eslMode, string link, string reported)
    {
        var openBefore = OpenDescriptors();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        await using (var drachtio = new ScriptedPeer(drachtioMode, DrachtioAsync))
        await using (var esl = new ScriptedPeer(eslMode, EventSocketAsync))
        await using (var factory = Host(drachtio, esl, FreePort()))
        {
            using var client = factory.CreateClient();
            var problem = await ReadyzUntilAsync(client, TimeSpan.FromSeconds(10), (status, said) =>
                status == HttpStatusCode.ServiceUnavailable && said?.Contains(link, StringComparison.Ordinal) == true && said.Contains(reported, StringComparison.Ordinal),
                $"/readyz should name {link} and '{reported}'");
            Assert.That(problem!.Length, Is.LessThan(2000), "a bounded preview of what the peer sent");
            Assert.That((await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the host stays up");
            Assert.That((await client.GetAsync("/api/calls")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

            var growth = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
            Assert.That(growth, Is.LessThan(64L * 1024 * 1024), $"{growth / 1024 / 1024} MB kept");

            drachtio.Mode = Mode.Behave;
            esl.Mode = Mode.Behave;
            await WaitForReadyAsync(client, TimeSpan.FromSeconds(20));
        }
        await HostFactory.Eventually(() => Task.FromResult(OpenDescriptors() <= openBefore), "every socket closed once the host stopped");
    }

    private static HostFactory Host(ScriptedPeer drachtio, ScriptedPeer esl, int outboundPort) => new(new()
    {
        ["DRACHTIO_HOST"] = "127.0.0.1",
        ["DRACHTIO_PORT"] = drachtio.Port.ToString(CultureInfo.InvariantCulture),
        ["DRACHTIO_SECRET"] = "cymru",
        ["FREESWITCH_HOST"] = "127.0.0.1",
        ["FREESWITCH_PORT"] = esl.Port.ToString(CultureInfo.InvariantCulture),
        ["FreeSwitch:OutboundPort"] = outboundPort.ToString(CultureInfo.InvariantCulture),
    });

    private static Task WaitForReadyAsync(HttpClient client, TimeSpan within) =>
        ReadyzUntilAsync(client, within, (status, _) => status == HttpStatusCode.OK, "ready");

    /// <summary>Polls <c>/readyz</c> until <paramref name="condition"/> holds for its status and problem; returns the problem then.</summary>
    private static async Task<string?> ReadyzUntilAsync(HttpClient client, TimeSpan within, Func<HttpStatusCode, string?, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            using var response = await client.GetAsync("/readyz");
            var problem = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("problem").GetString();
            if (condition(response.StatusCode, problem))
            {
                return problem;
            }
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"{what} in time; /readyz says: {problem}");
            await Task.Delay(20);
        }
    }

    /// <summary>Connects to the outbound listener, sends <paramref name="text"/> and then <paramref name="filler"/> bytes, and waits to be closed.</summary>
    private static async Task StrangerAsync(int port, string text, int filler)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        try
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
            var chunk = new byte[1024 * 1024];
            for (var sent = 0; sent < filler; sent += chunk.Length)
            {
                await socket.SendAsync(chunk, SocketFlags.None);
            }
        }
        catch (SocketException)
        {
            // closed by the host before everything was sent: what should happen
        }
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("the host kept a stranger's connection open");
        }
    }

    // ---- drachtio-server, as 0.9.10 speaks (captures drachtio/raw-client), or not ----

    private static async Task DrachtioAsync(ScriptedPeer peer, NetworkStream stream, CancellationToken ct)
    {
        switch (peer.Mode)
        {
            case Mode.Garbage:
                await stream.WriteAsync("hello, this is not drachtio\r\n\r\n"u8.ToArray(), ct);
                break;
            case Mode.HugeLength:
                await stream.WriteAsync("99999999#"u8.ToArray(), ct);
                break;
            case Mode.EndlessHeaders:
                // The largest frame the client takes, announced and then trickled, never finished.
                await stream.WriteAsync("99999#abc|response|"u8.ToArray(), ct);
                for (var i = 0; i < 1000 && !ct.IsCancellationRequested; i++)
                {
                    await stream.WriteAsync("x"u8.ToArray(), ct);
                    await Task.Delay(50, ct);
                }
                break;
            case Mode.CloseAtOnce:
                return;
            default:
                var slow = peer.Mode == Mode.ByteAtATime;
                while (!ct.IsCancellationRequested && await ReadFrameAsync(stream, ct) is { } frame)
                {
                    var fields = frame.Split('|');
                    var reply = fields[1] switch
                    {
                        "authenticate" when peer.Mode == Mode.RefuseSecret => $"{Guid.NewGuid()}|response|{fields[0]}|NO|incorrect secret",
                        "authenticate" => $"{Guid.NewGuid()}|response|{fields[0]}|OK|tcp/127.0.0.1:5060,udp/127.0.0.1:5060|v0.9.10-1-g9c2dd4cb6a|tcp/127.0.0.1:5060,udp/127.0.0.1:5060",
                        "ping" => $"{Guid.NewGuid()}|response|{fields[0]}|OK|pong",
                        _ => $"{Guid.NewGuid()}|response|{fields[0]}|OK",
                    };
                    var body = Encoding.UTF8.GetBytes(reply);
                    await WriteAsync(stream, [.. Encoding.ASCII.GetBytes(body.Length.ToString(CultureInfo.InvariantCulture) + "#"), .. body], slow, ct);
                }
                return;
        }
        await WaitForCloseAsync(stream, ct);
    }

    private static async Task<string?> ReadFrameAsync(NetworkStream stream, CancellationToken ct)
    {
        var length = 0;
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, ct) == 0)
            {
                return null;
            }
            if (one[0] == (byte)'#')
            {
                break;
            }
            length = (length * 10) + (one[0] - '0');
        }
        var body = new byte[length];
        await stream.ReadExactlyAsync(body, ct);
        return Encoding.UTF8.GetString(body);
    }

    // ---- FreeSWITCH's inbound Event Socket, as 1.11.1 speaks (capture freeswitch/esl-inbound), or not ----

    private const string SofiaStatus =
        "                     Name\t   Type\t                                      Data\tState\n" +
        "=================================================================================================\n" +
        "                      mrf\tprofile\t              sip:mod_sofia@127.0.0.1:5090\tRUNNING (0)\n" +
        "=================================================================================================\n" +
        "1 profile 0 aliases\n";

    private static async Task EventSocketAsync(ScriptedPeer peer, NetworkStream stream, CancellationToken ct)
    {
        switch (peer.Mode)
        {
            case Mode.Garbage:
                await stream.WriteAsync("\xff\xfe this is not an event socket\n\n"u8.ToArray(), ct);
                break;
            case Mode.HugeLength:
                await stream.WriteAsync("Content-Type: auth/request\nContent-Length: 999999999\n\n"u8.ToArray(), ct);
                break;
            case Mode.EndlessHeaders:
                var line = Encoding.ASCII.GetBytes("X-Header: " + new string('h', 1000) + "\n");
                try
                {
                    for (var i = 0; i < 1024 && !ct.IsCancellationRequested; i++)
                    {
                        await stream.WriteAsync(line, ct);
                    }
                }
                catch (IOException)
                {
                    return;
                }
                break;
            case Mode.CloseAtOnce:
                return;
            default:
                var slow = peer.Mode == Mode.ByteAtATime;
                await WriteAsync(stream, "Content-Type: auth/request\n\n"u8.ToArray(), slow, ct);
                var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
                var command = new StringBuilder();
                while (!ct.IsCancellationRequested && await reader.ReadLineAsync(ct) is { } text)
                {
                    if (text.Length > 0)
                    {
                        command.Append(text).Append('\n');
                        continue;
                    }
                    var first = command.ToString().Split('\n')[0];
                    command.Clear();
                    var reply = first switch
                    {
                        _ when first.StartsWith("auth ", StringComparison.Ordinal) => "Content-Type: command/reply\nReply-Text: +OK accepted\n\n",
                        "api sofia status" => ApiResponse(SofiaStatus),
                        _ when first.StartsWith("api ", StringComparison.Ordinal) => ApiResponse("+OK\n"),
                        _ when first.StartsWith("bgapi ", StringComparison.Ordinal) => $"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {Guid.NewGuid()}\nJob-UUID: {Guid.NewGuid()}\n\n",
                        _ => "Content-Type: command/reply\nReply-Text: +OK\n\n",
                    };
                    await WriteAsync(stream, Encoding.UTF8.GetBytes(reply), slow, ct);
                }
                return;
        }
        await WaitForCloseAsync(stream, ct);
    }

    private static string ApiResponse(string body) => $"Content-Type: api/response\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\n\n{body}";

    private static async Task WriteAsync(NetworkStream stream, byte[] bytes, bool oneAtATime, CancellationToken ct)
    {
        if (!oneAtATime)
        {
            await stream.WriteAsync(bytes, ct);
            return;
        }
        for (var i = 0; i < bytes.Length; i++)
        {
            await stream.WriteAsync(bytes.AsMemory(i, 1), ct);
            await stream.FlushAsync(ct);
            if (i % 16 == 0)
            {
                await Task.Delay(1, ct);
            }
        }
    }

    private static async Task WaitForCloseAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer, ct) > 0)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Open sockets of this process; Linux only.</summary>
    private static int OpenDescriptors()
    {
        Assume.That(Directory.Exists("/proc/self/fd"), "counts open sockets through /proc");
        var sockets = 0;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                sockets += new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true ? 1 : 0;
            }
            catch (IOException)
            {
                // closed while listed
            }
        }
        return sockets;
    }

    /// <summary>A loopback server whose every connection runs a script; the mode can change between connections.</summary>
    public sealed class ScriptedPeer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _connections = [];
        private readonly Task _accepting;
        private volatile int _mode;

        public ScriptedPeer(Mode mode, Func<ScriptedPeer, NetworkStream, CancellationToken, Task> script)
        {
            Mode = mode;
            _listener.Start();
            _accepting = AcceptAsync(script);
        }

        public Mode Mode
        {
            get => (Mode)_mode;
            set => _mode = (int)value;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        private async Task AcceptAsync(Func<ScriptedPeer, NetworkStream, CancellationToken, Task> script)
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                lock (_connections)
                {
                    _connections.Add(RunAsync(socket, script));
                }
            }
        }

        private async Task RunAsync(Socket socket, Func<ScriptedPeer, NetworkStream, CancellationToken, Task> script)
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            try
            {
                await script(this, stream, _stop.Token);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // the host closed the connection, or the test is over
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            Task[] running;
            lock (_connections)
            {
                running = [.. _connections];
            }
            await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10));
            _stop.Dispose();
        }
    }
}
