using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Voice.Control.Sip;

namespace Voice.Control.Tests.Support;

/// <summary>A frame the client sent, decoded by the fake with its own simple reader.</summary>
public sealed record ClientFrame(string Text)
{
    public string[] Fields => (Text.IndexOf("\r\n", StringComparison.Ordinal) is var crlf and >= 0 ? Text[..crlf] : Text).Split('|');

    public string Id => Fields[0];

    public string Type => Fields[1];

    public bool HasSip => Text.Contains("\r\n", StringComparison.Ordinal);

    public SipMessage Sip => SipMessage.Parse(Text.AsSpan(Text.IndexOf("\r\n", StringComparison.Ordinal) + 2));

    public override string ToString() => Text.ReplaceLineEndings("\\r\\n");
}

/// <summary>
/// One connection of the fake drachtio-server. Reads the client's frames (answering pings unless told not to),
/// writes server frames, and can close or drop the connection.
/// </summary>
public sealed class FakeDrachtioPeer : IAsyncDisposable
{
    // drachtio-server 0.9.10's reply to a good secret, from the captures.
    public const string SipAddresses = "tcp/127.0.0.1:5060,udp/127.0.0.1:5060";
    public const string Version = "v0.9.10-1-g9c2dd4cb6a";

    private readonly Stream _stream;
    private readonly Channel<ClientFrame> _frames = Channel.CreateUnbounded<ClientFrame>();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Task _readLoop;
    private int _pings;

    public FakeDrachtioPeer(Stream stream)
    {
        _stream = stream;
        _readLoop = ReadLoopAsync();
    }

    /// <summary>Answer <c>ping</c> with <c>OK|pong</c> as drachtio-server does. Off: pings go unanswered (a dead link).</summary>
    public bool AnswerPings { get; set; } = true;

    /// <summary>Write every frame one byte at a time, each byte flushed on its own.</summary>
    public bool WriteByteByByte { get; set; }

    public int PingsReceived => Volatile.Read(ref _pings);

    public Task Closed => _readLoop;

    /// <summary>The next frame the client sent (pings excluded while they are answered automatically).</summary>
    public async Task<ClientFrame> ReceiveAsync(TimeSpan? timeout = null)
    {
        try
        {
            return await _frames.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? Timeouts.Step);
        }
        catch (ChannelClosedException)
        {
            throw new AssertionException("the client closed the connection while a frame was expected");
        }
    }

    public async Task<ClientFrame> ReceiveAsync(string type)
    {
        var frame = await ReceiveAsync();
        Assert.That(frame.Type, Is.EqualTo(type), $"frame type of {frame}");
        return frame;
    }

    /// <summary>Expects <c>authenticate|cymru|…</c> and answers OK with the captured server details.</summary>
    public async Task<ClientFrame> AuthenticateAsync()
    {
        var auth = await ReceiveAsync("authenticate");
        await SendAsync($"{NewId()}|response|{auth.Id}|OK|{SipAddresses}|{Version}|{SipAddresses}");
        return auth;
    }

    /// <summary>Sends a message as one frame (the length prefix counted here, independently of the client).</summary>
    public Task SendAsync(string message)
    {
        var body = Encoding.UTF8.GetBytes(message);
        return SendRawAsync([.. Encoding.ASCII.GetBytes(body.Length.ToString(CultureInfo.InvariantCulture) + "#"), .. body]);
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            if (WriteByteByByte)
            {
                for (var i = 0; i < bytes.Length; i++)
                {
                    await _stream.WriteAsync(bytes.AsMemory(i, 1));
                    await _stream.FlushAsync();
                }
            }
            else
            {
                await _stream.WriteAsync(bytes);
                await _stream.FlushAsync();
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Answers a request frame with <c>OK</c> and an echo, the way drachtio-server acknowledges SIP it sent.</summary>
    public Task AcknowledgeAsync(ClientFrame request, string transactionId, string sentSip) =>
        SendAsync($"{NewId()}|response|{request.Id}|OK|application|{Encoding.UTF8.GetByteCount(sentSip)}|udp|127.0.0.1|5060|12:00:00.000000|{transactionId}|Msg sent:|\r\n{sentSip}");

    /// <summary>Waits until the client closes the connection; fails if it sends anything but pings first.</summary>
    public async Task AssertClientSendsNothingMoreAsync(TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var frame = await _frames.Reader.ReadAsync(cts.Token);
            Assert.Fail($"the client sent {frame} but should have sent nothing more");
        }
        catch (OperationCanceledException)
        {
        }
        catch (ChannelClosedException)
        {
        }
    }

    /// <summary>Closes the connection with FIN, as drachtio-server does when it shuts down.</summary>
    public async Task CloseAsync()
    {
        await _stream.DisposeAsync();
        await _readLoop;
    }

    public static string NewId() => Guid.NewGuid().ToString();

    private async Task ReadLoopAsync()
    {
        var pending = new List<byte>();
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                var read = await _stream.ReadAsync(buffer);
                if (read == 0)
                {
                    break;
                }
                pending.AddRange(buffer.AsSpan(0, read));
                while (TryTakeFrame(pending, out var text))
                {
                    var frame = new ClientFrame(text);
                    if (frame.Type == "ping" && AnswerPings)
                    {
                        Interlocked.Increment(ref _pings);
                        await SendAsync($"{NewId()}|response|{frame.Id}|OK|pong");
                        continue;
                    }
                    if (frame.Type == "ping")
                    {
                        Interlocked.Increment(ref _pings);
                        continue;
                    }
                    _frames.Writer.TryWrite(frame);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    private static bool TryTakeFrame(List<byte> pending, out string text)
    {
        text = string.Empty;
        var hash = pending.IndexOf((byte)'#');
        if (hash < 0)
        {
            return false;
        }
        var length = int.Parse(Encoding.ASCII.GetString([.. pending.GetRange(0, hash)]), CultureInfo.InvariantCulture);
        if (pending.Count < hash + 1 + length)
        {
            return false;
        }
        text = Encoding.UTF8.GetString([.. pending.GetRange(hash + 1, length)]);
        pending.RemoveRange(0, hash + 1 + length);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        await _readLoop;
    }
}
