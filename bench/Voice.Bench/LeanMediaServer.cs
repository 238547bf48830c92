using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Voice.Control.Drachtio;

namespace Voice.Bench;

/// <summary>
/// drachtio-server and FreeSWITCH in one lean stand-in, for the endpoint lifecycle benchmark. On the drachtio
/// control port it answers the endpoint INVITE with FreeSWITCH's SAVP + AVP offer (shape of the mrf captures),
/// the re-INVITE with an answer, ACKs and BYE; on its Event Socket port it logs the client in and answers
/// <c>sofia status</c>; after each endpoint ACK it dials the client's outbound listener (X-esl-outbound) as the
/// dialplan's <c>socket</c> app does, sends the channel data, answers subscriptions, completes each
/// <c>sendmsg</c> execute with CHANNEL_EXECUTE_COMPLETE — stamped with the monotonic time the command
/// arrived, so the client can tell how soon after ModifyAsync its play command was on the wire — and on BYE
/// hangs the channel up and closes the socket.
/// </summary>
public sealed class LeanMediaServer : IAsyncDisposable
{
    public const string WireTimestampHeader = "X-Bench-Received-Timestamp";

    private const string Offer =
        "v=0\r\no=FreeSWITCH 1 2 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
        "m=audio 40966 RTP/SAVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n" +
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:oCzbYENdXTCHhfuLPV6FGdwlhgpk0IE/mudDbwva\r\na=ptime:20\r\n" +
        "m=audio 40966 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n";

    private const string Answer =
        "v=0\r\no=FreeSWITCH 1 3 IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40966 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";

    private const string PhoneSdp =
        "v=0\r\no=sipp 1 1 IN IP4 127.0.0.1\r\ns=sipp\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6186 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

    private const string SofiaStatus =
        "                     Name\t   Type\t                                      Data\tState\n" +
        "=================================================================================================\n" +
        "                      mrf\tprofile\t              sip:mod_sofia@127.0.0.1:5090\tRUNNING (0)\n" +
        "=================================================================================================\n1 profile 0 aliases\n";

    private readonly TcpListener _drachtio = new(IPAddress.Loopback, 0);
    private readonly TcpListener _eventSocket = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<string, Channel> _channels = new(StringComparer.Ordinal);
    private readonly List<Task> _loops = [];
    private int _calls;

    private readonly LeanPace _pace;

    public LeanMediaServer(LeanPace? pace = null)
    {
        _pace = pace ?? LeanPace.Instant;
        _drachtio.Start();
        _eventSocket.Start();
        _loops.Add(AcceptAsync(_drachtio, ServeDrachtioAsync));
        _loops.Add(AcceptAsync(_eventSocket, ServeInboundAsync));
    }

    public int DrachtioPort => ((IPEndPoint)_drachtio.LocalEndpoint).Port;

    public int EventSocketPort => ((IPEndPoint)_eventSocket.LocalEndpoint).Port;

    /// <summary>A FreeSWITCH channel: its outbound Event Socket connection to the client.</summary>
    private sealed class Channel(string uuid, Stream stream)
    {
        public string Uuid { get; } = uuid;

        public Stream Stream { get; } = stream;

        public SemaphoreSlim WriteLock { get; } = new(1, 1);

        /// <summary>The client subscribed with <c>event json</c>: events go out as JSON, as FreeSWITCH sends them.</summary>
        public bool Json { get; set; }

        /// <summary>When the last CHANNEL_EXECUTE_COMPLETE was written (a Stopwatch timestamp); 0 once the next command came.</summary>
        public long CompletedAt;
    }

    private static async Task AcceptAsync(TcpListener listener, Func<Stream, Task> serve)
    {
        try
        {
            while (true)
            {
                var socket = await listener.AcceptSocketAsync();
                socket.NoDelay = true;
                _ = serve(new NetworkStream(socket, ownsSocket: true));
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeDrachtioAsync(Stream stream)
    {
        var reader = PipeReader.Create(stream);
        var link = new DrachtioLink(PipeWriter.Create(stream));
        var afterFlush = new List<Func<Task>>();
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                await link.Lock.WaitAsync();
                try
                {
                    while (DrachtioFrame.TryRead(ref buffer, DrachtioFrame.DefaultMaxMessageLength, out var payload))
                    {
                        AnswerDrachtio(link, DrachtioMessage.Parse(payload), afterFlush);
                    }
                    await link.Writer.FlushAsync();
                }
                finally
                {
                    link.Lock.Release();
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                foreach (var action in afterFlush)
                {
                    _ = action();
                }
                afterFlush.Clear();
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

    /// <summary>The control connection's writer, shared by the read loop and delayed answers (a phone that rings).</summary>
    private sealed class DrachtioLink(PipeWriter writer)
    {
        public PipeWriter Writer { get; } = writer;

        public SemaphoreSlim Lock { get; } = new(1, 1);
    }

    /// <summary>Microseconds from each phone 200 OK written to the next play command read, for calls answered at once.</summary>
    private readonly ConcurrentQueue<double> _answerToPlay = new();

    /// <summary>For each command after a channel's first: µs from the previous command's CHANNEL_EXECUTE_COMPLETE written to this command read.</summary>
    private readonly ConcurrentQueue<double> _completionToNext = new();

    private long _lastAnswer;

    /// <summary>Takes what was measured so far (the answer-to-play and completion-to-next times), each sorted, and starts both afresh.</summary>
    public (List<double> AnswerToPlay, List<double> CompletionToNext) Take() => (Drain(_answerToPlay), Drain(_completionToNext));

    private static List<double> Drain(ConcurrentQueue<double> queue)
    {
        var taken = new List<double>(queue.Count);
        while (queue.TryDequeue(out var value))
        {
            taken.Add(value);
        }
        taken.Sort();
        return taken;
    }

    /// <summary>The phone leg: echo, 180, then 200 OK with its SDP, at once or after X-Bench-Ring-Ms.</summary>
    private void AnswerPhone(DrachtioLink link, string id, string sip, List<Func<Task>> afterFlush)
    {
        var n = "ph" + Interlocked.Increment(ref _calls).ToString(CultureInfo.InvariantCulture);
        var dialog = $"{n};from-tag=tag-{n}";
        var headers = $"From: <sip:127.0.0.1:5060>;tag=tag-{n}\r\nTo: <sip:15551234567@127.0.0.1:5085>\r\nCall-ID: {n}\r\nCSeq: 1 INVITE\r\n";
        DrachtioFrame.Write(link.Writer, $"s|response|{id}|OK|application|577|udp|127.0.0.1|5060|03:16:34.684491|inv-{n}|Msg sent:|\r\n" +
            $"INVITE sip:15551234567@127.0.0.1:5085 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{n}\r\n{headers}Contact: <sip:127.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n");
        var to = $"From: <sip:127.0.0.1:5060>;tag=tag-{n}\r\nTo: <sip:15551234567@127.0.0.1:5085>;tag=far-{n}\r\nCall-ID: {n}\r\nCSeq: 1 INVITE\r\n";
        DrachtioFrame.Write(link.Writer, $"s|sip|network|324|udp|127.0.0.1|5085|03:16:34.684769|inv-{n}|{dialog}|\r\n" +
            $"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{n}\r\n{to}Contact: <sip:127.0.0.1:5085;transport=UDP>\r\nContent-Length: 0\r\n\r\n");
        var ok = $"s|sip|network|483|udp|127.0.0.1|5085|03:16:34.686145|inv-{n}|{dialog}|\r\n" +
            $"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{n}\r\n{to}Contact: <sip:127.0.0.1:5085;transport=UDP>\r\n" +
            $"Content-Type: application/sdp\r\nContent-Length: {PhoneSdp.Length}\r\n\r\n{PhoneSdp}";
        var ring = int.TryParse(Header(sip, "X-Bench-Ring-Ms"), NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? ms : (int)_pace.Ring.TotalMilliseconds;
        if (ring == 0)
        {
            DrachtioFrame.Write(link.Writer, ok);
            afterFlush.Add(() =>
            {
                Volatile.Write(ref _lastAnswer, Stopwatch.GetTimestamp());
                return Task.CompletedTask;
            });
            return;
        }
        afterFlush.Add(async () =>
        {
            await Task.Delay(ring);
            await link.Lock.WaitAsync();
            try
            {
                DrachtioFrame.Write(link.Writer, ok);
                await link.Writer.FlushAsync();
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
            }
            finally
            {
                link.Lock.Release();
            }
        });
    }

    private void AnswerDrachtio(DrachtioLink link, DrachtioMessage request, List<Func<Task>> afterFlush)
    {
        var writer = link.Writer;
        var id = request.Id;
        if (request.Type.SequenceEqual("authenticate"))
        {
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|udp/127.0.0.1:5060|v0.9.10-1-g9c2dd4cb6a|udp/127.0.0.1:5060");
            return;
        }
        if (request.Type.SequenceEqual("ping"))
        {
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|pong");
            return;
        }
        var sip = request.SipText.ToString();
        var dialogId = request.GetField(3);
        if (sip.StartsWith("INVITE ", StringComparison.Ordinal) && dialogId.Length == 0 && !sip.StartsWith("INVITE sip:drachtio@", StringComparison.Ordinal))
        {
            AnswerPhone(link, id, sip, afterFlush);
        }
        else if (sip.StartsWith("INVITE ", StringComparison.Ordinal) && dialogId.Length == 0)
        {
            var n = Interlocked.Increment(ref _calls).ToString(CultureInfo.InvariantCulture);
            var dialog = $"ep-{n};from-tag=tag-{n}";
            var userAgent = Header(sip, "User-Agent");
            var outbound = Header(sip, "X-esl-outbound");
            var headers = $"From: <sip:127.0.0.1:5060>;tag=tag-{n}\r\nTo: <sip:drachtio@127.0.0.1:5090>\r\nCall-ID: ep-{n}\r\nCSeq: 1 INVITE\r\n";
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|application|425|udp|127.0.0.1|5060|03:30:48.018525|inv-{n}|Msg sent:|\r\n" +
                $"INVITE sip:drachtio@127.0.0.1:5090 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{n}\r\n{headers}Contact: <sip:127.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n");
            var to = $"From: <sip:127.0.0.1:5060>;tag=tag-{n}\r\nTo: <sip:drachtio@127.0.0.1:5090>;tag=fs-{n}\r\nCall-ID: ep-{n}\r\nCSeq: 1 INVITE\r\n";
            DrachtioFrame.Write(writer, $"s|sip|network|2510|udp|127.0.0.1|5090|03:30:48.020077|inv-{n}|{dialog}|\r\n" +
                $"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;rport=5060;branch=z9hG4bK{n}\r\n{to}Contact: <sip:drachtio@127.0.0.1:5090;transport=udp>\r\n" +
                $"Content-Type: application/sdp\r\nContent-Length: {Offer.Length}\r\n\r\n{Offer}");
            // FreeSWITCH's dialplan answers and its socket app dials the client once the ACK arrives; here right after the 200.
            afterFlush.Add(() => DialOutAsync(dialog, userAgent, outbound));
        }
        else if (sip.StartsWith("INVITE ", StringComparison.Ordinal))
        {
            var n = dialogId[3..dialogId.IndexOf(';')];
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|application|576|udp|127.0.0.1|5060|03:30:48.043189|re-{n}|Msg sent:|\r\n" +
                $"INVITE sip:drachtio@127.0.0.1:5090;transport=udp SIP/2.0\r\nCall-ID: ep-{n}\r\nCSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n");
            DrachtioFrame.Write(writer, $"s|sip|network|919|udp|127.0.0.1|5090|03:30:48.043315|re-{n}|{dialogId}|\r\n" +
                $"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;rport=5060;branch=z9hG4bKre{n}\r\nFrom: <sip:127.0.0.1:5060>;tag=tag-{n}\r\n" +
                $"To: <sip:drachtio@127.0.0.1:5090>;tag=fs-{n}\r\nCall-ID: ep-{n}\r\nCSeq: 2 INVITE\r\nContact: <sip:drachtio@127.0.0.1:5090;transport=udp>\r\n" +
                $"Content-Type: application/sdp\r\nContent-Length: {Answer.Length}\r\n\r\n{Answer}");
        }
        else if (sip.StartsWith("ACK ", StringComparison.Ordinal))
        {
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|application|323|udp|127.0.0.1|5060|03:30:48.044438|ack|Msg sent:|\r\nACK sip:drachtio@127.0.0.1:5090 SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        }
        else if (sip.StartsWith("BYE ", StringComparison.Ordinal))
        {
            var callId = dialogId[..dialogId.IndexOf(';')];
            DrachtioFrame.Write(writer, $"s|response|{id}|OK|application|318|udp|127.0.0.1|5060|03:30:51.562932|bye-{callId}|Msg sent:|\r\n" +
                $"BYE sip:drachtio@127.0.0.1:5090 SIP/2.0\r\nCall-ID: {callId}\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n");
            DrachtioFrame.Write(writer, $"s|sip|network|270|udp|127.0.0.1|5090|03:30:51.563131|bye-{callId}|{dialogId}|\r\n" +
                $"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKbye\r\nCall-ID: {callId}\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n");
            if (_channels.TryRemove(dialogId, out var channel))
            {
                afterFlush.Add(() => HangUpAsync(channel));
            }
        }
    }

    /// <summary>The dialplan's <c>socket ${sip_h_X-esl-outbound} async full</c>: connect, channel data, then serve the session.</summary>
    private async Task DialOutAsync(string dialog, string userAgent, string outbound)
    {
        var colon = outbound.LastIndexOf(':');
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Parse(outbound[..colon]), int.Parse(outbound[(colon + 1)..], CultureInfo.InvariantCulture));
        var channel = new Channel(Guid.NewGuid().ToString(), new NetworkStream(socket, ownsSocket: true));
        _channels[dialog] = channel;
        var reader = PipeReader.Create(channel.Stream);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (TryReadCommand(ref buffer, out var command))
                {
                    await AnswerSessionAsync(this, channel, command, userAgent);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    private static Task AnswerSessionAsync(LeanMediaServer server, Channel channel, string command, string userAgent)
    {
        if (command == "connect")
        {
            var variables = server._pace.RealSize ? string.Concat(LeanPace.ChannelVariables.Select(v => $"{v.Name}: {v.Value}\n")) : string.Empty;
            return WriteAsync(channel,
                $"Event-Name: CHANNEL_DATA\nUnique-ID: {channel.Uuid}\nChannel-Call-State: ACTIVE\nAnswer-State: answered\n" +
                $"variable_sip_user_agent: {Uri.EscapeDataString(userAgent)}\n{variables}Socket-Mode: async\nControl: full\n" +
                "Content-Type: command/reply\nReply-Text: %2BOK%0A\n\n");
        }
        if (command.StartsWith("event json ", StringComparison.Ordinal))
        {
            channel.Json = true;
        }
        if (command.StartsWith("sendmsg ", StringComparison.Ordinal))
        {
            var received = Stopwatch.GetTimestamp();
            var answered = Interlocked.Exchange(ref server._lastAnswer, 0);
            if (answered != 0)
            {
                server._answerToPlay.Enqueue(Stopwatch.GetElapsedTime(answered, received).TotalMicroseconds);
            }
            var completed = Interlocked.Exchange(ref channel.CompletedAt, 0);
            if (completed != 0)
            {
                server._completionToNext.Enqueue(Stopwatch.GetElapsedTime(completed, received).TotalMicroseconds);
            }
            var eventUuid = Header(command, "Event-UUID", '\n');
            var application = Header(command, "execute-app-name", '\n');
            (string Name, string Value)[] headers =
            [
                ("Event-Name", "CHANNEL_EXECUTE_COMPLETE"), ("Unique-ID", channel.Uuid), ("Application", application),
                ("Application-Response", "FILE PLAYED"), ("Application-UUID", eventUuid), (WireTimestampHeader, received.ToString(CultureInfo.InvariantCulture)),
            ];
            if (application == "play_and_get_digits")
            {
                // The phone pressed 1: the digits in the variable the command named (its eighth argument), as FreeSWITCH reports them.
                var variable = Header(command, "execute-app-arg", '\n').Split(' ')[7];
                headers = [.. headers, ("variable_" + variable, "1"), ("variable_read_result", "success")];
            }
            var complete = Event(server._pace, channel, headers);
            if (application == "playback" && server._pace.Playback > TimeSpan.Zero)
            {
                // The message plays for as long as it lasts; meanwhile the session goes on (the reply comes at once, in order).
                _ = Task.Run(async () =>
                {
                    await Task.Delay(server._pace.Playback);
                    try
                    {
                        await WriteAsync(channel, complete);
                        Volatile.Write(ref channel.CompletedAt, Stopwatch.GetTimestamp());
                    }
                    catch (Exception ex) when (ex is IOException or ObjectDisposedException)
                    {
                    }
                });
                return WriteAsync(channel, "Content-Type: command/reply\nReply-Text: +OK\n\n");
            }
            return CompleteAsync(channel, "Content-Type: command/reply\nReply-Text: +OK\n\n" + complete);
        }
        if (command.StartsWith("api ", StringComparison.Ordinal))
        {
            return WriteAsync(channel, "Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        }
        return WriteAsync(channel, "Content-Type: command/reply\nReply-Text: +OK\n\n");
    }

    /// <summary>Writes a command's reply and completion, and notes when the completion was out.</summary>
    private static async Task CompleteAsync(Channel channel, string text)
    {
        await WriteAsync(channel, text);
        Volatile.Write(ref channel.CompletedAt, Stopwatch.GetTimestamp());
    }

    /// <summary>An event in the session's format (plain, or JSON once subscribed so), with its envelope.</summary>
    private static string Event(LeanPace pace, Channel channel, (string Name, string Value)[] headers)
    {
        if (channel.Json)
        {
            var json = pace.Json(headers);
            return $"Content-Length: {Encoding.UTF8.GetByteCount(json)}\nContent-Type: text/event-json\n\n{json}";
        }
        var plain = string.Concat(headers.Select(h => $"{h.Name}: {Uri.EscapeDataString(h.Value)}\n")) + "\n";
        return $"Content-Length: {plain.Length}\nContent-Type: text/event-plain\n\n{plain}";
    }

    private async Task HangUpAsync(Channel channel)
    {
        var hangup = Event(_pace, channel, [("Event-Name", "CHANNEL_HANGUP"), ("Unique-ID", channel.Uuid), ("Hangup-Cause", "NORMAL_CLEARING")]);
        try
        {
            await WriteAsync(channel, hangup + "Content-Type: text/disconnect-notice\nContent-Length: 22\n\nDisconnected, goodbye.");
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
        await channel.Stream.DisposeAsync();
    }

    private async Task ServeInboundAsync(Stream stream)
    {
        var channel = new Channel("inbound", stream);
        var reader = PipeReader.Create(stream);
        try
        {
            await WriteAsync(channel, "Content-Type: auth/request\n\n");
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (TryReadCommand(ref buffer, out var command))
                {
                    await WriteAsync(channel, command switch
                    {
                        _ when command.StartsWith("auth ", StringComparison.Ordinal) => "Content-Type: command/reply\nReply-Text: +OK accepted\n\n",
                        "api sofia status" => $"Content-Type: api/response\nContent-Length: {SofiaStatus.Length}\n\n{SofiaStatus}",
                        _ => "Content-Type: command/reply\nReply-Text: +OK\n\n",
                    });
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    private static async Task WriteAsync(Channel channel, string text)
    {
        await channel.WriteLock.WaitAsync();
        try
        {
            await channel.Stream.WriteAsync(Encoding.UTF8.GetBytes(text));
        }
        finally
        {
            channel.WriteLock.Release();
        }
    }

    /// <summary>A client command: its lines up to the blank line (these benchmarks send no bodies).</summary>
    private static bool TryReadCommand(ref ReadOnlySequence<byte> buffer, out string command)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> lines, "\n\n"u8))
        {
            command = string.Empty;
            return false;
        }
        command = Encoding.UTF8.GetString(lines);
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static string Header(string text, string name, char lineEnd = '\r')
    {
        var at = text.IndexOf("\n" + name + ": ", StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return string.Empty;
        }
        var start = at + name.Length + 3;
        var end = text.IndexOf(lineEnd, start);
        return end < 0 ? text[start..] : text[start..end];
    }

    public async ValueTask DisposeAsync()
    {
        _drachtio.Stop();
        _eventSocket.Stop();
        await Task.WhenAll(_loops);
        foreach (var channel in _channels.Values)
        {
            await channel.Stream.DisposeAsync();
        }
    }
}
