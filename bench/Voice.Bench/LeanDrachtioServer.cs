using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Voice.Control.Drachtio;

namespace Voice.Bench;

/// <summary>
/// A minimal drachtio-server stand-in for benchmarks: answers authenticate, ping, and plays the answered-call
/// exchange of the captures (INVITE echo, 180, 200 with SDP; ACK echo; BYE echo and 200) in their exact format.
/// It runs in the benchmark's process, so its CPU counts against the measured call.
/// </summary>
public sealed class LeanDrachtioServer : IAsyncDisposable
{
    private const string Sdp = "v=0\r\no=sipp 1 1 IN IP4 127.0.0.1\r\ns=sipp\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6186 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _accept;
    private int _calls;

    public LeanDrachtioServer()
    {
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync();
                socket.NoDelay = true;
                _ = ServeAsync(new NetworkStream(socket, ownsSocket: true));
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(Stream stream)
    {
        var reader = PipeReader.Create(stream);
        var writer = PipeWriter.Create(stream);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (DrachtioFrame.TryRead(ref buffer, DrachtioFrame.DefaultMaxMessageLength, out var payload))
                {
                    Answer(writer, DrachtioMessage.Parse(payload));
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                await writer.FlushAsync();
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    private void Answer(IBufferWriter<byte> writer, DrachtioMessage request)
    {
        var id = request.Id;
        var type = request.Type;
        if (type.SequenceEqual("authenticate"))
        {
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|udp/127.0.0.1:5060|v0.9.10-1-g9c2dd4cb6a|udp/127.0.0.1:5060");
            return;
        }
        if (type.SequenceEqual("ping"))
        {
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|pong");
            return;
        }
        var sip = request.SipText;
        if (sip.StartsWith("INVITE "))
        {
            var n = Interlocked.Increment(ref _calls).ToString(CultureInfo.InvariantCulture);
            var dialog = $"call-{n};from-tag=tag-{n}";
            var headers = $"From: <sip:127.0.0.1:5060>;tag=tag-{n}\r\nTo: <sip:15551234567@127.0.0.1:5085>\r\nCall-ID: call-{n}\r\nCSeq: 1 INVITE\r\n";
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|application|577|udp|127.0.0.1|5060|03:16:34.684491|inv-{n}|Msg sent:|\r\n" +
                $"INVITE sip:15551234567@127.0.0.1:5085 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{n}\r\n{headers}Contact: <sip:127.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n");
            var to = $"From: <sip:127.0.0.1:5060>;tag=tag-{n}\r\nTo: <sip:15551234567@127.0.0.1:5085>;tag=far-{n}\r\nCall-ID: call-{n}\r\nCSeq: 1 INVITE\r\n";
            DrachtioFrame.Write(writer, $"s|sip|network|324|udp|127.0.0.1|5085|03:16:34.684769|inv-{n}|{dialog}|\r\n" +
                $"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{n}\r\n{to}Contact: <sip:127.0.0.1:5085;transport=UDP>\r\nContent-Length: 0\r\n\r\n");
            DrachtioFrame.Write(writer, $"s|sip|network|483|udp|127.0.0.1|5085|03:16:34.686145|inv-{n}|{dialog}|\r\n" +
                $"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{n}\r\n{to}Contact: <sip:127.0.0.1:5085;transport=UDP>\r\nContent-Type: application/sdp\r\nContent-Length: {Sdp.Length}\r\n\r\n{Sdp}");
        }
        else if (sip.StartsWith("ACK "))
        {
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|application|319|udp|127.0.0.1|5060|03:16:34.688058|ack|Msg sent:|\r\nACK sip:127.0.0.1:5085 SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        }
        else if (sip.StartsWith("BYE "))
        {
            var dialog = request.GetField(3);
            var callId = dialog[..dialog.IndexOf(';')];
            var txn = "bye-" + callId;
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|application|319|udp|127.0.0.1|5060|03:16:35.690309|{txn}|Msg sent:|\r\nBYE sip:127.0.0.1:5085 SIP/2.0\r\nCall-ID: {callId}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
            DrachtioFrame.Write(writer, $"s|sip|network|316|udp|127.0.0.1|5085|03:16:35.691310|{txn}|{dialog}|\r\n" +
                $"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKbye\r\nCall-ID: {callId}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accept;
    }
}
