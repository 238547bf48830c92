using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Voice.TestPhone;

/// <summary>
/// A phone (or a PBX trunk) for tests against real servers: a SIP user agent server on UDP that rings, answers,
/// refuses, challenges, never answers or hangs up as scripted per dialled number, and an <see cref="RtpEndpoint"/>
/// per call that reports what the callee would have heard. It also calls (<see cref="DialAsync"/>): a caller for calls to VoiceBridge. It answers what drachtio-server sends — INVITE, ACK,
/// CANCEL, BYE — and sends its own BYE; UDP retransmissions are answered from the last response.
/// </summary>
public sealed partial class TestPhone : IAsyncDisposable
{
    private const string Realm = "phone.test";

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, PhoneCall> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _nonces = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PhoneBehaviour> _behaviours = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<SipPacket>> _waiting = new(StringComparer.Ordinal);
    private readonly Channel<PhoneCall> _incoming = Channel.CreateUnbounded<PhoneCall>();
    private readonly Task _loop;

    private TestPhone(Socket socket, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
        EndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _loop = ReceiveLoopAsync();
    }

    /// <summary>Where drachtio-server sends INVITEs: the trunk address VoiceBridge is given.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>How numbers without a script of their own are treated.</summary>
    public PhoneBehaviour Behaviour { get; set; } = PhoneBehaviour.Answering;

    /// <summary>Calls in the order their INVITEs came.</summary>
    public ChannelReader<PhoneCall> Calls => _incoming.Reader;

    /// <summary>Every call received, keyed by Call-ID.</summary>
    public IReadOnlyDictionary<string, PhoneCall> All => _calls;

    public static TestPhone Start(IPAddress address, int port = 0, ILogger? logger = null)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveBuffer, 4 * 1024 * 1024);
        socket.Bind(new IPEndPoint(address, port));
        return new TestPhone(socket, logger ?? NullLogger.Instance);
    }

    /// <summary>Treats INVITEs for <paramref name="user"/> (the Request-URI's user part, with or without its '+') this way.</summary>
    public void When(string user, PhoneBehaviour behaviour) => _behaviours[user] = behaviour;

    public async Task<PhoneCall> NextCallAsync(CancellationToken ct) => await _incoming.Reader.ReadAsync(ct).ConfigureAwait(false);

    /// <summary>Hangs up from the phone: BYE in the dialog, retransmitted until its final response.</summary>
    public async Task<int> HangUpAsync(PhoneCall call)
    {
        var (target, headers, cseq) = InDialog(call, "BYE");
        call.End("bye-sent");
        var final = await SendUntilFinalAsync(call, cseq, SipPacket.Build($"BYE {target} SIP/2.0", headers), target).ConfigureAwait(false);
        return final?.Status ?? 408;
    }

    /// <summary>
    /// Offers again in an answered call (a re-INVITE with the phone's SDP, <c>a=sendonly</c> for a hold), as PBXs do;
    /// ACKs the 2xx and returns the final response.
    /// </summary>
    public async Task<SipPacket> ReinviteAsync(PhoneCall call, bool hold)
    {
        var (target, headers, cseq) = InDialog(call, "INVITE");
        headers.Add(new("Contact", $"<sip:phone@{EndPoint}>"));
        var sdp = Answer(call);
        var final = await SendUntilFinalAsync(call, cseq,
            SipPacket.Build($"INVITE {target} SIP/2.0", headers, hold ? sdp.Replace("a=sendrecv", "a=sendonly", StringComparison.Ordinal) : sdp), target)
            .ConfigureAwait(false) ?? throw new TimeoutException("no final response to the re-INVITE");
        if (final.Status < 300)
        {
            await SendAsync(SipPacket.Build($"ACK {target} SIP/2.0", InDialog(call, "ACK", cseq).Headers), Destination(target, call.Source)).ConfigureAwait(false);
        }
        return final;
    }

    /// <summary>
    /// A request of the phone's in the dialog of a call it answered: to VoiceBridge's Contact, our tagged To as From, its
    /// From as To, the next CSeq (or <paramref name="cseq"/>, for an ACK), a fresh branch, and the route set.
    /// </summary>
    private (string Target, List<KeyValuePair<string, string>> Headers, int CSeq) InDialog(PhoneCall call, string method, int? cseq = null)
    {
        var invite = call.AuthorizedInvite ?? call.Invite;
        var number = cseq ?? ++call.LocalCSeq;
        var headers = new List<KeyValuePair<string, string>>
        {
            new("Via", $"SIP/2.0/UDP {EndPoint};branch=z9hG4bK{RandomNumberGenerator.GetHexString(16, lowercase: true)};rport"),
            new("Max-Forwards", "70"),
            new("From", ToWithTag(invite, call.LocalTag)),
            new("To", invite.Header("From")!),
            new("Call-ID", call.CallId),
            new("CSeq", $"{number} {method}"),
        };
        headers.AddRange(invite.All("Record-Route").Select(r => new KeyValuePair<string, string>("Route", r)));
        return (SipPacket.Uri(invite.Header("Contact") ?? invite.Header("From")!), headers, number);
    }

    /// <summary>Sends a request over UDP again at 0.5, 1, 2 s… (RFC 3261 timer E) until its final response; null when none came.</summary>
    private async Task<SipPacket?> SendUntilFinalAsync(PhoneCall call, int cseq, byte[] request, string target)
    {
        var waiter = new TaskCompletionSource<SipPacket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[$"{call.CallId}|{cseq}"] = waiter;
        var destination = Destination(target, call.Source);
        for (var attempt = 0; attempt < 7 && !waiter.Task.IsCompleted; attempt++)
        {
            await SendAsync(request, destination).ConfigureAwait(false);
            await Task.WhenAny(waiter.Task, Task.Delay(500 << Math.Min(attempt, 2))).ConfigureAwait(false);
        }
        _waiting.TryRemove($"{call.CallId}|{cseq}", out _);
        return waiter.Task.IsCompleted ? waiter.Task.Result : null;
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, any, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            if (SipPacket.TryParse(buffer.AsSpan(0, result.ReceivedBytes)) is not { } packet)
            {
                continue;
            }
            var from = (IPEndPoint)result.RemoteEndPoint;
            try
            {
                await HandleAsync(packet, from).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "The test phone failed on {Message}", packet.StartLine);
            }
        }
    }

    private async Task HandleAsync(SipPacket packet, IPEndPoint from)
    {
        if (!packet.IsRequest ? await OnDialledResponseAsync(packet).ConfigureAwait(false) : await OnDialledRequestAsync(packet, from).ConfigureAwait(false))
        {
            return;
        }
        if (!packet.IsRequest)
        {
            var key = $"{packet.CallId}|{(packet.Header("CSeq") ?? string.Empty).Split(' ')[0]}";
            if (packet.Status >= 200 && _waiting.TryRemove(key, out var waiter))
            {
                waiter.TrySetResult(packet);
            }
            return;
        }
        _calls.TryGetValue(packet.CallId, out var call);
        switch (packet.Method)
        {
            case "INVITE":
                await OnInviteAsync(packet, from, call).ConfigureAwait(false);
                break;
            case "ACK":
                if (call is not null && call.AnsweredAt is not null && call.AckedAt is null)
                {
                    call.AckedAt = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (packet.Body.Length > 0)
                    {
                        // A late offer answered: the answerer's key is what it sends with (RFC 4568 §5.1.2).
                        call.AckSdp = packet.Body;
                        if (packet.Body.Split("\r\n").FirstOrDefault(l => l.StartsWith("a=crypto:", StringComparison.Ordinal)) is { } crypto)
                        {
                            call.Media.Srtp ??= Srtp.FromCryptoLine(crypto);
                        }
                    }
                    if (BehaviourFor(call.User).SendsRtp && RemoteMedia(call.AckSdp ?? call.OfferedSdp) is { } remote)
                    {
                        call.Media.SendSilenceTo(remote.EndPoint, remote.PayloadType, remote.EventType, BehaviourFor(call.User).ToneHz);
                        var media = call.Media;
                        foreach (var (after, key) in BehaviourFor(call.User).Presses)
                        {
                            _ = Task.Delay(after).ContinueWith(_ => media.PressKey(key), TaskScheduler.Default);
                        }
                    }
                }
                break;
            case "CANCEL":
                await RespondAsync(packet, from, 200, "OK", call?.LocalTag).ConfigureAwait(false);
                if (call is not null && call.AnsweredAt is null && call.LastResponse?.Status is null or < 200)
                {
                    await FinalAsync(call, 487, "Request Terminated").ConfigureAwait(false);
                    call.End("canceled");
                }
                break;
            case "BYE" when call is not null && !BehaviourFor(call.User).AnswersBye:
                call.End("bye-unanswered");
                await call.Media.DisposeAsync().ConfigureAwait(false);
                break;
            case "BYE":
                await RespondAsync(packet, from, call is null ? 481 : 200, call is null ? "Call/Transaction Does Not Exist" : "OK", call?.LocalTag).ConfigureAwait(false);
                call?.End("bye-received");
                if (call is not null)
                {
                    await call.Media.DisposeAsync().ConfigureAwait(false); // what it heard stays in its report
                }
                break;
            default:
                await RespondAsync(packet, from, 200, "OK", call?.LocalTag).ConfigureAwait(false);
                break;
        }
    }

    private async Task OnInviteAsync(SipPacket invite, IPEndPoint from, PhoneCall? call)
    {
        if (call is not null && SameTransaction(call.AuthorizedInvite ?? call.Invite, invite))
        {
            if (call.LastResponseBytes is { } last)
            {
                await SendAsync(last, from).ConfigureAwait(false); // a retransmission
            }
            return;
        }
        if (call is not null && SipPacket.Tag(invite.Header("To")) is not null)
        {
            // A re-INVITE: our SDP again.
            await RespondAsync(invite, from, 200, "OK", call.LocalTag, Answer(call)).ConfigureAwait(false);
            return;
        }
        var user = invite.RequestUri.Split(':', 2)[1].Split('@')[0];
        var behaviour = BehaviourFor(user);
        if (behaviour.Challenge is { } challenge && !Authorized(invite, challenge.User, challenge.Password, challenge.Status))
        {
            var nonce = RandomNumberGenerator.GetHexString(32, lowercase: true);
            _nonces[invite.CallId] = nonce;
            var header = challenge.Status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
            await RespondAsync(invite, from, challenge.Status, challenge.Status == 401 ? "Unauthorized" : "Proxy Authentication Required",
                "challenge" + RandomNumberGenerator.GetHexString(8, lowercase: true), extra: [new(header, $"Digest realm=\"{Realm}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5")])
                .ConfigureAwait(false);
            return;
        }
        var media = new RtpEndpoint(EndPoint.Address);
        var created = new PhoneCall(invite, RandomNumberGenerator.GetHexString(10, lowercase: true), media, from);
        if (behaviour.Challenge is not null)
        {
            created.AuthorizedInvite = invite;
        }
        _calls[invite.CallId] = created;
        _incoming.Writer.TryWrite(created);
        await RespondAsync(invite, from, 100, "Trying", null).ConfigureAwait(false);
        _ = RingAsync(created, behaviour);
    }

    private async Task RingAsync(PhoneCall call, PhoneBehaviour behaviour)
    {
        if (behaviour.EarlyMedia)
        {
            await ProvisionalAsync(call, 183, "Session Progress", Answer(call)).ConfigureAwait(false);
        }
        else
        {
            await ProvisionalAsync(call, 180, "Ringing", null).ConfigureAwait(false);
        }
        if (behaviour.FinalStatus is not { } status)
        {
            return; // rings until CANCEL
        }
        await Task.WhenAny(call.Ended, Task.Delay(behaviour.RingFor)).ConfigureAwait(false);
        if (call.Ended.IsCompleted)
        {
            return;
        }
        if (status >= 300)
        {
            await FinalAsync(call, status, status == 486 ? "Busy Here" : "Refused").ConfigureAwait(false);
            call.End("refused");
            return;
        }
        var ok = BuildResponse(call.AuthorizedInvite ?? call.Invite, 200, "OK", call.LocalTag, Answer(call));
        call.LastResponseBytes = ok;
        call.LastResponse = SipPacket.TryParse(ok);
        await SendAsync(ok, call.Source).ConfigureAwait(false);
        call.MarkAnswered();
        if (behaviour.HangUpAfter is { } after)
        {
            _ = HangUpLaterAsync(call, after);
        }
        // RFC 3261 §13.3.1.4: the 2xx goes again at T1, 2T1, … until the ACK comes.
        for (var interval = 500; call.AckedAt is null && !call.Ended.IsCompleted && interval <= 4000; interval *= 2)
        {
            await Task.Delay(interval).ConfigureAwait(false);
            if (call.AckedAt is null && !call.Ended.IsCompleted)
            {
                await SendAsync(ok, call.Source).ConfigureAwait(false);
            }
        }
    }

    private async Task HangUpLaterAsync(PhoneCall call, TimeSpan after)
    {
        await Task.WhenAny(call.Ended, Task.Delay(after)).ConfigureAwait(false);
        if (!call.Ended.IsCompleted)
        {
            await HangUpAsync(call).ConfigureAwait(false);
        }
    }

    private Task ProvisionalAsync(PhoneCall call, int status, string reason, string? sdp) =>
        SendAsync(BuildResponse(call.AuthorizedInvite ?? call.Invite, status, reason, call.LocalTag, sdp), call.Source);

    private Task FinalAsync(PhoneCall call, int status, string reason)
    {
        var bytes = BuildResponse(call.AuthorizedInvite ?? call.Invite, status, reason, call.LocalTag, null);
        call.LastResponseBytes = bytes;
        call.LastResponse = SipPacket.TryParse(bytes);
        return SendAsync(bytes, call.Source);
    }

    private Task RespondAsync(SipPacket request, IPEndPoint to, int status, string reason, string? tag, string? sdp = null, KeyValuePair<string, string>[]? extra = null) =>
        SendAsync(BuildResponse(request, status, reason, tag, sdp, extra), to);

    private byte[] BuildResponse(SipPacket request, int status, string reason, string? tag, string? sdp, KeyValuePair<string, string>[]? extra = null)
    {
        var headers = request.All("Via").Select(v => new KeyValuePair<string, string>("Via", v)).ToList();
        headers.Add(new("From", request.Header("From")!));
        headers.Add(new("To", tag is null || status == 100 ? request.Header("To")! : ToWithTag(request, tag)));
        headers.Add(new("Call-ID", request.CallId));
        headers.Add(new("CSeq", request.Header("CSeq")!));
        if (request.Method == "INVITE" && status is > 100 and < 300)
        {
            headers.Add(new("Contact", $"<sip:phone@{EndPoint}>"));
        }
        if (extra is not null)
        {
            headers.AddRange(extra);
        }
        return SipPacket.Build($"SIP/2.0 {status} {reason}", headers, sdp ?? string.Empty);
    }

    private static string ToWithTag(SipPacket request, string tag)
    {
        var to = request.Header("To")!;
        return SipPacket.Tag(to) is null ? $"{to};tag={tag}" : to;
    }

    /// <summary>
    /// Our answer: the first of PCMU/PCMA VoiceBridge offered, telephone-event if offered, in the offered profile. To
    /// an INVITE without SDP, our offer: PCMU, PCMA and telephone-event, in RTP/SAVP when the behaviour says so.
    /// </summary>
    private string Answer(PhoneCall call)
    {
        var offer = call.OfferedSdp;
        if (offer.Length == 0)
        {
            var srtp = BehaviourFor(call.User).OfferSrtp;
            offer = $"v=0\r\nt=0 0\r\nm=audio 0 {(srtp ? "RTP/SAVP" : "RTP/AVP")} 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n" +
                (srtp ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n" : string.Empty);
        }
        var mline = offer.Split("\r\n").FirstOrDefault(l => l.StartsWith("m=audio ", StringComparison.Ordinal)) ?? "m=audio 0 RTP/AVP 0";
        var parts = mline.Split(' ');
        var formats = parts.Skip(3).ToList();
        var late = call.OfferedSdp.Length == 0;
        var codecs = late ? ["0", "8"] : formats.Where(f => f is "0" or "8").Take(1).DefaultIfEmpty("0").ToList();
        var events = formats.Where(f => offer.Contains($"a=rtpmap:{f} telephone-event/8000", StringComparison.Ordinal)).Take(1).ToList();
        var address = EndPoint.Address.ToString();
        var sdp = new StringBuilder()
            .Append("v=0\r\n").Append($"o=phone 1 1 IN IP4 {address}\r\n").Append("s=phone\r\n").Append($"c=IN IP4 {address}\r\n").Append("t=0 0\r\n")
            .Append($"m=audio {call.Media.Port} {parts[2]} {string.Join(' ', codecs.Concat(events))}\r\n");
        foreach (var codec in codecs)
        {
            sdp.Append($"a=rtpmap:{codec} {(codec == "8" ? "PCMA" : "PCMU")}/8000\r\n");
        }
        foreach (var e in events)
        {
            sdp.Append($"a=rtpmap:{e} telephone-event/8000\r\na=fmtp:{e} 0-16\r\n");
        }
        if (parts[2] == "RTP/SAVP" && offer.Split("\r\n").FirstOrDefault(l => l.StartsWith("a=crypto:", StringComparison.Ordinal)) is { } crypto)
        {
            var fields = crypto.Split(' ');
            sdp.Append($"{fields[0]} {fields[1]} inline:{Convert.ToBase64String(RandomNumberGenerator.GetBytes(30))}\r\n");
            // The offerer's key is what it sends with (RFC 4568 §5.1.2): the phone decrypts with it. (When the phone
            // offers, the key to decrypt with comes in the ACK's answer.)
            if (!late)
            {
                call.Media.Srtp ??= Srtp.FromCryptoLine(crypto);
            }
        }
        return sdp.Append("a=ptime:20\r\na=sendrecv\r\n").ToString();
    }

    private static (IPEndPoint EndPoint, int PayloadType, int? EventType)? RemoteMedia(string sdp)
    {
        var lines = sdp.Split("\r\n");
        var connection = lines.FirstOrDefault(l => l.StartsWith("c=IN IP4 ", StringComparison.Ordinal));
        var media = lines.FirstOrDefault(l => l.StartsWith("m=audio ", StringComparison.Ordinal));
        if (connection is null || media is null || !IPAddress.TryParse(connection[9..].Trim(), out var address))
        {
            return null;
        }
        var parts = media.Split(' ');
        var pt = parts.Skip(3).FirstOrDefault(f => f is "0" or "8") ?? "0";
        var events = parts.Skip(3).FirstOrDefault(f => lines.Contains($"a=rtpmap:{f} telephone-event/8000"));
        return (new IPEndPoint(address, int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)), int.Parse(pt, System.Globalization.CultureInfo.InvariantCulture),
            events is null ? null : int.Parse(events, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>A correct digest (RFC 2617, qop=auth) for the nonce this phone gave the call.</summary>
    private bool Authorized(SipPacket invite, string user, string password, int status)
    {
        var header = invite.Header(status == 401 ? "Authorization" : "Proxy-Authorization");
        if (header is null || !_nonces.TryGetValue(invite.CallId, out var nonce))
        {
            return false;
        }
        var p = DigestParameter().Matches(header).ToDictionary(m => m.Groups[1].Value.ToLowerInvariant(), m => m.Groups[3].Success ? m.Groups[3].Value : m.Groups[2].Value);
        if (p.GetValueOrDefault("username") != user || p.GetValueOrDefault("nonce") != nonce || p.GetValueOrDefault("uri") != invite.RequestUri)
        {
            return false;
        }
        var ha1 = Md5($"{user}:{Realm}:{password}");
        var ha2 = Md5($"INVITE:{p["uri"]}");
        var expected = p.GetValueOrDefault("qop") == "auth"
            ? Md5($"{ha1}:{nonce}:{p.GetValueOrDefault("nc")}:{p.GetValueOrDefault("cnonce")}:auth:{ha2}")
            : Md5($"{ha1}:{nonce}:{ha2}");
        return expected == p.GetValueOrDefault("response");
    }

    private static string Md5(string text) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));

    private static bool SameTransaction(SipPacket a, SipPacket b) => a.Header("CSeq") == b.Header("CSeq");

    private PhoneBehaviour BehaviourFor(string user) =>
        _behaviours.TryGetValue(user, out var exact) ? exact : _behaviours.GetValueOrDefault(user.TrimStart('+'), Behaviour);

    private static IPEndPoint Destination(string uri, IPEndPoint fallback)
    {
        var hostPort = uri.Split(':', 2)[1];
        hostPort = hostPort.Contains('@', StringComparison.Ordinal) ? hostPort.Split('@')[1] : hostPort;
        hostPort = hostPort.Split(';')[0];
        var colon = hostPort.LastIndexOf(':');
        return colon > 0 && IPAddress.TryParse(hostPort[..colon], out var address) && int.TryParse(hostPort[(colon + 1)..], out var port)
            ? new IPEndPoint(address, port)
            : IPAddress.TryParse(hostPort, out var bare) ? new IPEndPoint(bare, 5060) : fallback;
    }

    private async Task SendAsync(byte[] bytes, IPEndPoint to)
    {
        try
        {
            await _socket.SendToAsync(bytes, to).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _logger.LogDebug("The test phone could not send to {To}: {Error}", to, ex.Message);
        }
    }

    [GeneratedRegex("([A-Za-z-]+)=(?:\"([^\"]*)\"|([^,\\s]+))")]
    private static partial Regex DigestParameter();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _loop.ConfigureAwait(false);
        foreach (var call in _calls.Values)
        {
            await call.Media.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var call in _dialled.Values)
        {
            await call.Media.DisposeAsync().ConfigureAwait(false);
        }
        _stop.Dispose();
    }
}
