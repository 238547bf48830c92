using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace Voice.TestPhone;

// Calls the phone makes: INVITE with a plain RTP/AVP offer, ACK, CANCEL, BYE, and VoiceBridge's BYE answered.
public sealed partial class TestPhone
{
    private readonly ConcurrentDictionary<string, DialledCall> _dialled = new(StringComparer.Ordinal);

    /// <summary>
    /// Calls <paramref name="user"/> through the SIP server at <paramref name="server"/> (drachtio-server) as
    /// <paramref name="caller"/>: an INVITE offering PCMU, PCMA and telephone-event in plain RTP/AVP, resent until a response.
    /// Once answered the phone ACKs, sends silence (and <paramref name="presses"/>, each that long after the ACK) and records what it hears.
    /// </summary>
    public async Task<DialledCall> DialAsync(IPEndPoint server, string user, string caller = "1001", IReadOnlyList<(TimeSpan After, char Key)>? presses = null)
    {
        var media = new RtpEndpoint(EndPoint.Address);
        var call = new DialledCall(this, server, $"sip:{user}@{server}", RandomNumberGenerator.GetHexString(16, lowercase: true) + "@phone.test",
            RandomNumberGenerator.GetHexString(10, lowercase: true), caller, media, presses ?? []);
        _dialled[call.CallId] = call;
        var address = EndPoint.Address.ToString();
        var offer = $"v=0\r\no=phone 1 1 IN IP4 {address}\r\ns=phone\r\nc=IN IP4 {address}\r\nt=0 0\r\n" +
                    $"m=audio {media.Port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
                    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";
        call.Offer = offer;
        var invite = SipPacket.Build($"INVITE {call.RequestUri} SIP/2.0", call.RequestHeaders("INVITE", 1, call.Branch, withTag: false,
            [new("Contact", $"<sip:{caller}@{EndPoint}>"), new("Subject", "VoiceBridge inbound test")]), offer);
        _ = ResendUntilAnsweredAsync(call, invite);
        await Task.Yield();
        return call;
    }

    private async Task ResendUntilAnsweredAsync(DialledCall call, byte[] invite)
    {
        for (var interval = 500; call.LastStatus == 0 && interval <= 4000; interval *= 2)
        {
            await SendAsync(invite, call.Server).ConfigureAwait(false);
            await Task.WhenAny(call.FirstResponse, Task.Delay(interval)).ConfigureAwait(false);
        }
    }

    /// <summary>Responses to the phone's INVITE, CANCEL and BYE; returns false for anything else.</summary>
    private async Task<bool> OnDialledResponseAsync(SipPacket response)
    {
        if (!_dialled.TryGetValue(response.CallId, out var call))
        {
            return false;
        }
        var method = response.Method;
        var cseq = int.Parse((response.Header("CSeq") ?? "1").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        if (method == "INVITE" && cseq > 1)
        {
            // The answer to the phone's re-INVITE: ACKed in the dialog with its CSeq.
            if (response.Status >= 200)
            {
                var ack = SipPacket.Build($"ACK {call.RemoteTarget} SIP/2.0",
                    call.RequestHeaders("ACK", cseq, "z9hG4bK" + RandomNumberGenerator.GetHexString(16, lowercase: true), withTag: true, []));
                await SendAsync(ack, call.Server).ConfigureAwait(false);
                call.OnOtherResponse("INVITE", response);
            }
        }
        else if (method == "INVITE")
        {
            call.OnInviteResponse(response);
            if (response.Status >= 200)
            {
                // RFC 3261 §17.1.1.3: a non-2xx is ACKed in the transaction (same branch); a 2xx in the dialog, every time it comes.
                var ok = response.Status < 300;
                var ack = SipPacket.Build($"ACK {(ok ? call.RemoteTarget : call.RequestUri)} SIP/2.0",
                    call.RequestHeaders("ACK", 1, ok ? "z9hG4bK" + RandomNumberGenerator.GetHexString(16, lowercase: true) : call.Branch, withTag: true, []));
                await SendAsync(ack, call.Server).ConfigureAwait(false);
                if (ok && call.StartMedia())
                {
                    foreach (var (after, key) in call.Presses)
                    {
                        var media = call.Media;
                        _ = Task.Delay(after).ContinueWith(_ => media.PressKey(key), TaskScheduler.Default);
                    }
                }
            }
        }
        else if (response.Status >= 200)
        {
            call.OnOtherResponse(method, response);
        }
        return true;
    }

    /// <summary>Requests in a dialog the phone started: VoiceBridge's BYE (answered 200, the call ends), anything else 200.</summary>
    private async Task<bool> OnDialledRequestAsync(SipPacket request, IPEndPoint from)
    {
        if (!_dialled.TryGetValue(request.CallId, out var call))
        {
            return false;
        }
        if (request.Method != "ACK")
        {
            var headers = request.All("Via").Select(v => new KeyValuePair<string, string>("Via", v)).ToList();
            headers.Add(new("From", request.Header("From")!));
            headers.Add(new("To", request.Header("To")!));
            headers.Add(new("Call-ID", request.CallId));
            headers.Add(new("CSeq", request.Header("CSeq")!));
            var body = request.Method == "INVITE" ? call.Offer : string.Empty;
            await SendAsync(SipPacket.Build("SIP/2.0 200 OK", headers, body), from).ConfigureAwait(false);
        }
        if (request.Method == "BYE")
        {
            call.End("bye-received");
            await call.Media.DisposeAsync().ConfigureAwait(false);
        }
        return true;
    }

    internal Task SendDialledAsync(DialledCall call, byte[] bytes) => SendAsync(bytes, call.Server);
}

/// <summary>A call the phone made, from its INVITE to its end, with every response and what the phone heard.</summary>
public sealed class DialledCall
{
    private readonly TestPhone _phone;
    private readonly TaskCompletionSource _firstResponse = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<SipPacket> _final = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<SipPacket>> _others = new(StringComparer.Ordinal);
    private readonly List<int> _statuses = [];
    private int _mediaStarted;
    private int _cseq = 1;

    internal DialledCall(TestPhone phone, IPEndPoint server, string requestUri, string callId, string tag, string caller, RtpEndpoint media, IReadOnlyList<(TimeSpan, char)> presses)
    {
        _phone = phone;
        Server = server;
        RequestUri = requestUri;
        CallId = callId;
        LocalTag = tag;
        Caller = caller;
        Media = media;
        Presses = presses;
        Branch = "z9hG4bK" + RandomNumberGenerator.GetHexString(16, lowercase: true);
        RemoteTarget = requestUri;
    }

    public string CallId { get; }

    public string RequestUri { get; }

    public RtpEndpoint Media { get; }

    /// <summary>Every status the INVITE got, in order (100 Trying included).</summary>
    public IReadOnlyList<int> Statuses
    {
        get
        {
            lock (_statuses)
            {
                return [.. _statuses];
            }
        }
    }

    /// <summary>The INVITE's final response.</summary>
    public Task<SipPacket> Final => _final.Task;

    /// <summary>Completes with how the call ended: <c>bye-received</c>, <c>bye-sent</c>, <c>canceled</c> or <c>refused</c>.</summary>
    public Task<string> Ended => _ended.Task;

    /// <summary>When the 200 OK arrived (a <see cref="Stopwatch"/> timestamp).</summary>
    public long? AnsweredAt { get; private set; }

    /// <summary>The time from the 200 OK to the first packet carrying speech; null when none came.</summary>
    public TimeSpan? AnswerToSpeech => Media.SpeechSince(AnsweredAt);

    /// <summary>VoiceBridge's SDP answer, from its 200 OK.</summary>
    public string? AnswerSdp { get; private set; }

    internal IPEndPoint Server { get; }

    internal string LocalTag { get; }

    internal string Caller { get; }

    internal string Branch { get; }

    internal string Offer { get; set; } = string.Empty;

    internal string RemoteTarget { get; private set; }

    internal string? RemoteTo { get; private set; }

    internal IReadOnlyList<(TimeSpan After, char Key)> Presses { get; }

    internal int LastStatus { get; private set; }

    internal Task FirstResponse => _firstResponse.Task;

    /// <summary>Completes once the caller has heard <paramref name="audiblePackets"/> packets of speech (<see cref="RtpEndpoint.HeardAsync"/>).</summary>
    public Task HeardAsync(int audiblePackets, TimeSpan within) => Media.HeardAsync(audiblePackets, within);

    /// <summary>Gives up before the answer: CANCEL (same branch as the INVITE); returns the INVITE's final status (487).</summary>
    public async Task<int> CancelAsync()
    {
        var cancel = SipPacket.Build($"CANCEL {RequestUri} SIP/2.0", RequestHeaders("CANCEL", 1, Branch, withTag: false, []));
        var answered = Expect("CANCEL");
        await _phone.SendDialledAsync(this, cancel).ConfigureAwait(false);
        await answered.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var final = await Final.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        End("canceled");
        return final.Status;
    }

    /// <summary>Hangs up an answered call: BYE to VoiceBridge's Contact; returns its status.</summary>
    public async Task<int> HangUpAsync()
    {
        var cseq = Interlocked.Increment(ref _cseq);
        var bye = SipPacket.Build($"BYE {RemoteTarget} SIP/2.0", RequestHeaders("BYE", cseq, "z9hG4bK" + RandomNumberGenerator.GetHexString(16, lowercase: true), withTag: true, []));
        var answered = Expect("BYE");
        End("bye-sent");
        await _phone.SendDialledAsync(this, bye).ConfigureAwait(false);
        var ok = await answered.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        await Media.DisposeAsync().ConfigureAwait(false);
        return ok.Status;
    }

    /// <summary>Sends a re-INVITE in the dialog with the phone's offer, <c>a=sendonly</c> (a hold) when asked; returns VoiceBridge's final response.</summary>
    public async Task<SipPacket> ReinviteAsync(bool hold)
    {
        var cseq = Interlocked.Increment(ref _cseq);
        var offer = hold ? Offer.Replace("a=sendrecv", "a=sendonly", StringComparison.Ordinal) : Offer;
        var invite = SipPacket.Build($"INVITE {RemoteTarget} SIP/2.0", RequestHeaders("INVITE", cseq, "z9hG4bK" + RandomNumberGenerator.GetHexString(16, lowercase: true), withTag: true,
            [new("Contact", $"<sip:{Caller}@{_phone.EndPoint}>")]), offer);
        var answered = Expect("INVITE");
        await _phone.SendDialledAsync(this, invite).ConfigureAwait(false);
        return await answered.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    internal List<KeyValuePair<string, string>> RequestHeaders(string method, int cseq, string branch, bool withTag, IEnumerable<KeyValuePair<string, string>> extra)
    {
        var headers = new List<KeyValuePair<string, string>>
        {
            new("Via", $"SIP/2.0/UDP {_phone.EndPoint};branch={branch};rport"),
            new("Max-Forwards", "70"),
            new("From", $"<sip:{Caller}@{_phone.EndPoint}>;tag={LocalTag}"),
            new("To", withTag && RemoteTo is not null ? RemoteTo : $"<{RequestUri}>"),
            new("Call-ID", CallId),
            new("CSeq", $"{cseq} {method}"),
        };
        headers.AddRange(extra);
        return headers;
    }

    internal void OnInviteResponse(SipPacket response)
    {
        lock (_statuses)
        {
            _statuses.Add(response.Status);
        }
        LastStatus = response.Status;
        _firstResponse.TrySetResult();
        if (response.Status < 200)
        {
            return;
        }
        RemoteTo = response.Header("To");
        if (response.Status < 300)
        {
            AnsweredAt ??= Stopwatch.GetTimestamp();
            AnswerSdp = response.Body;
            if (response.Header("Contact") is { } contact)
            {
                RemoteTarget = SipPacket.Uri(contact);
            }
        }
        else
        {
            End(response.Status == 487 ? "canceled" : "refused");
        }
        _final.TrySetResult(response);
    }

    /// <summary>Starts sending to VoiceBridge's media once (a retransmitted 2xx is only ACKed again).</summary>
    internal bool StartMedia()
    {
        if (Interlocked.Exchange(ref _mediaStarted, 1) == 1 || AnswerSdp is null)
        {
            return false;
        }
        var lines = AnswerSdp.Split("\r\n");
        var connection = lines.FirstOrDefault(l => l.StartsWith("c=IN IP4 ", StringComparison.Ordinal));
        var audio = lines.FirstOrDefault(l => l.StartsWith("m=audio ", StringComparison.Ordinal) && !l.StartsWith("m=audio 0 ", StringComparison.Ordinal));
        if (connection is null || audio is null)
        {
            return false;
        }
        var parts = audio.Split(' ');
        var payload = parts.Skip(3).FirstOrDefault(f => f is "0" or "8") ?? "0";
        var events = parts.Skip(3).FirstOrDefault(f => lines.Contains($"a=rtpmap:{f} telephone-event/8000"));
        Media.SendSilenceTo(new IPEndPoint(IPAddress.Parse(connection[9..].Trim()), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)),
            int.Parse(payload, System.Globalization.CultureInfo.InvariantCulture), events is null ? null : int.Parse(events, System.Globalization.CultureInfo.InvariantCulture));
        return true;
    }

    internal void OnOtherResponse(string method, SipPacket response)
    {
        if (_others.TryRemove(method, out var waiter))
        {
            waiter.TrySetResult(response);
        }
    }

    private Task<SipPacket> Expect(string method)
    {
        var waiter = new TaskCompletionSource<SipPacket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _others[method] = waiter;
        return waiter.Task;
    }

    internal void End(string how) => _ended.TrySetResult(how);

    public override string ToString() => $"{CallId} to {RequestUri}";
}
