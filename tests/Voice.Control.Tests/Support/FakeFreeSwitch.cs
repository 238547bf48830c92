using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;

namespace Voice.Control.Tests.Support;

/// <summary>
/// One Event Socket connection as FreeSWITCH's side of it: reads the client's commands (each ended by a blank
/// line, read with its own simple reader) and writes server bytes exactly as given.
/// </summary>
public sealed partial class FakeEslPeer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Channel<string> _commands = Channel.CreateUnbounded<string>();
    private readonly Task _readLoop;

    public FakeEslPeer(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _readLoop = ReadLoopAsync();
    }

    /// <summary>Completes when the client closed its side.</summary>
    public Task Closed => _readLoop;

    public async Task<string> ReceiveCommandAsync(TimeSpan? timeout = null)
    {
        try
        {
            return await _commands.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? Timeouts.Step);
        }
        catch (ChannelClosedException)
        {
            throw new AssertionException("the client closed the Event Socket connection instead of sending a command");
        }
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>FIN, as FreeSWITCH closes after a disconnect notice.</summary>
    public async Task CloseAsync()
    {
        _socket.Shutdown(SocketShutdown.Both);
        await _stream.DisposeAsync();
    }

    public async Task AssertClientSendsNothingMoreAsync(TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var command = await _commands.Reader.ReadAsync(cts.Token);
            Assert.Fail($"the client sent '{command}' but should have sent nothing more");
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
        }
    }

    private async Task ReadLoopAsync()
    {
        var pending = new List<byte>();
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                var n = await _stream.ReadAsync(buffer);
                if (n == 0)
                {
                    break;
                }
                pending.AddRange(buffer.AsSpan(0, n));
                while (TryTakeCommand(pending, out var command))
                {
                    _commands.Writer.TryWrite(command);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
        finally
        {
            _commands.Writer.TryComplete();
        }
    }

    /// <summary>
    /// One command: its lines up to the blank line, and when they carry <c>content-length</c> that many body bytes
    /// after it, returned as <c>lines + "\n\n" + body</c>.
    /// </summary>
    private static bool TryTakeCommand(List<byte> pending, out string command)
    {
        command = string.Empty;
        var bytes = pending.ToArray();
        var end = bytes.AsSpan().IndexOf("\n\n"u8);
        if (end < 0)
        {
            return false;
        }
        var head = Encoding.UTF8.GetString(bytes, 0, end);
        var length = ContentLength().Match(head) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        if (bytes.Length < end + 2 + length)
        {
            return false;
        }
        command = length == 0 ? head : head + "\n\n" + Encoding.UTF8.GetString(bytes, end + 2, length);
        pending.RemoveRange(0, end + 2 + length);
        return true;
    }

    [GeneratedRegex(@"(?im)^content-length: (\d+)$")]
    private static partial Regex ContentLength();

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        await _readLoop;
    }
}

/// <summary>A fake FreeSWITCH Event Socket port (8021): every accepted connection becomes a <see cref="FakeEslPeer"/>.</summary>
public sealed class FakeEslServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Channel<FakeEslPeer> _peers = Channel.CreateUnbounded<FakeEslPeer>();
    private readonly List<FakeEslPeer> _all = [];
    private readonly Task _accept;

    private FakeEslServer()
    {
        _listener.Start();
        _accept = AcceptLoopAsync();
    }

    public static FakeEslServer Start() => new();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Closes the port: connection attempts are refused, as while FreeSWITCH is stopped.</summary>
    public void StopListening() => _listener.Stop();

    public async Task<FakeEslPeer> AcceptAsync() => await _peers.Reader.ReadAsync().AsTask().WaitAsync(Timeouts.Step);

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync();
                var peer = new FakeEslPeer(socket);
                lock (_all)
                {
                    _all.Add(peer);
                }
                _peers.Writer.TryWrite(peer);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accept;
        foreach (var peer in _all)
        {
            await peer.DisposeAsync();
        }
    }
}

/// <summary>
/// Replays a captured Event Socket exchange through a <see cref="FakeEslPeer"/>: server messages are sent byte
/// for byte, each client command is checked against the captured one. The client's own ids (Job-UUID,
/// Event-UUID) are learned from its commands and substituted into what the server says afterwards, as a real
/// FreeSWITCH would echo them; UUIDs have one length, so every Content-Length stays true.
/// </summary>
public sealed partial class EslReplay(FakeEslPeer peer, IReadOnlyList<(Side From, byte[] Bytes)> messages)
{
    private readonly Dictionary<string, string> _ids = new(StringComparer.Ordinal);

    public int Position { get; private set; }

    public bool AtEnd => Position >= messages.Count;

    public IReadOnlyList<(Side From, byte[] Bytes)> Messages => messages;

    public (Side From, byte[] Bytes) Next => messages[Position];

    public FakeEslPeer Peer => peer;

    /// <summary>
    /// The exchange of one freeswitch/ capture in order: the order and sizes of the sections come from the
    /// .txt trace, the bytes from the .app.bin and .fs.bin streams. A client section holding several commands
    /// is split per command.
    /// </summary>
    public static IReadOnlyList<(Side From, byte[] Bytes)> FromTrace(string path)
    {
        var stem = Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileNameWithoutExtension(path));
        var app = File.ReadAllBytes(stem + ".app.bin");
        var fs = File.ReadAllBytes(stem + ".fs.bin");
        int appAt = 0, fsAt = 0;
        var result = new List<(Side, byte[])>();
        foreach (var line in File.ReadLines(path))
        {
            var head = SectionHeader().Match(line);
            if (!head.Success)
            {
                continue;
            }
            var length = int.Parse(head.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (head.Groups["dir"].Value == "CLIENT->FS")
            {
                var text = Encoding.UTF8.GetString(app, appAt, length);
                appAt += length;
                foreach (var command in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
                {
                    result.Add((Side.App, Encoding.UTF8.GetBytes(command + "\n\n")));
                }
            }
            else
            {
                result.Add((Side.Server, fs[fsAt..(fsAt + length)]));
                fsAt += length;
            }
        }
        if (appAt != app.Length || fsAt != fs.Length)
        {
            throw new InvalidDataException($"{path}: the trace's sections do not cover the .bin streams");
        }
        return result;
    }

    public async Task PlayAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await StepAsync();
        }
    }

    /// <summary>Plays every remaining message.</summary>
    public async Task PlayToEndAsync()
    {
        while (!AtEnd)
        {
            await StepAsync();
        }
    }

    /// <summary>Plays the server's messages up to (not including) the next client command.</summary>
    public async Task PlayServerAsync()
    {
        while (!AtEnd && Next.From == Side.Server)
        {
            await StepAsync();
        }
    }

    /// <summary>
    /// Reads the client's next command and checks it against the capture; returns it. A <c>sendmsg</c> is
    /// compared header by header (FreeSWITCH reads them into an event, so their order means nothing), and our
    /// <c>event-lock: true</c>, which drachtio-fsmrf leaves out, is allowed.
    /// </summary>
    public Task<string> ExpectClientAsync() => ExpectClientAsync((expected, actual) =>
    {
        if (expected.StartsWith("sendmsg ", StringComparison.Ordinal))
        {
            Assert.That(SendmsgHeaders(actual), Is.EquivalentTo(SendmsgHeaders(expected)), $"command {Position - 1} of the capture: {actual}");
        }
        else
        {
            Assert.That(actual, Is.EqualTo(expected), $"command {Position - 1} of the capture");
        }
    });

    /// <summary>Reads the client's next command in place of the captured one and checks it with <paramref name="check"/>(captured, actual).</summary>
    public async Task<string> ExpectClientAsync(Action<string, string> check)
    {
        Assert.That(Next.From, Is.EqualTo(Side.App), $"message {Position} of the capture is the server's");
        var expected = Encoding.UTF8.GetString(messages[Position++].Bytes)[..^2];
        var actual = await peer.ReceiveCommandAsync();
        Learn(expected, actual);
        check(Substitute(expected), actual);
        return actual;
    }

    /// <summary>From now on, <paramref name="captured"/> in what the server sends becomes <paramref name="ours"/>.</summary>
    public void Map(string captured, string ours) => _ids[captured] = ours;

    private static List<string> SendmsgHeaders(string command) =>
        command.Split('\n').Where(l => l.Length > 0 && l != "event-lock: true").ToList();

    public void Skip(int count) => Position += count;

    private async Task StepAsync()
    {
        if (Next.From == Side.App)
        {
            await ExpectClientAsync();
            return;
        }
        await peer.SendAsync(Encoding.UTF8.GetBytes(SubstituteMessage(Encoding.UTF8.GetString(messages[Position++].Bytes))));
    }

    /// <summary>A server message with our ids; when a substitution changed the body's length, its Content-Length follows.</summary>
    private string SubstituteMessage(string message)
    {
        var substituted = Substitute(message);
        var split = substituted.IndexOf("\n\n", StringComparison.Ordinal);
        if (substituted.Length == message.Length || split < 0 || OuterContentLength().Match(substituted[..split]) is not { Success: true } length)
        {
            return substituted;
        }
        var body = substituted[(split + 2)..];
        return substituted[..length.Groups[1].Index] + Encoding.UTF8.GetByteCount(body).ToString(System.Globalization.CultureInfo.InvariantCulture)
            + substituted[(length.Groups[1].Index + length.Groups[1].Length)..];
    }

    [GeneratedRegex(@"(?m)^Content-Length: (\d+)$")]
    private static partial Regex OuterContentLength();

    private void Learn(string expected, string actual)
    {
        foreach (var header in new[] { "Job-UUID: ", "Event-UUID: " })
        {
            var captured = IdAfter(expected, header);
            var ours = IdAfter(actual, header);
            if (captured is not null && ours is not null)
            {
                _ids[captured] = ours;
            }
        }
    }

    private static string? IdAfter(string command, string header)
    {
        var at = command.IndexOf(header, StringComparison.Ordinal);
        return at < 0 ? null : command.Substring(at + header.Length, 36);
    }

    private string Substitute(string text)
    {
        foreach (var (captured, ours) in _ids)
        {
            text = text.Replace(captured, ours, StringComparison.Ordinal);
        }
        return text;
    }

    [GeneratedRegex(@"^### \[[\d.]+\] (?<dir>CLIENT->FS|FS->CLIENT) (?<n>\d+) bytes$")]
    private static partial Regex SectionHeader();
}
