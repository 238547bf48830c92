using System.Text;
using Voice.Control.Backends;
using Voice.Control.Calls;
using Voice.Control.Media;
using Voice.Control.Phone;
using Voice.Control.Tests.Media;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Calls;

/// <summary>
/// The announce call through the orchestrator on the real backend, against the fake drachtio-server and fake
/// FreeSWITCH replaying the captured mrf-endpoint-play call (drachtio-fsmrf placing the same call).
/// </summary>
public class AnnounceCallTests
{
    // "1" + national number reproduces the capture's Request-URI, sip:15551234567@127.0.0.1:5085.
    private static readonly CallOptions Options = new()
    {
        DialPlan = new DialPlan { Host = "127.0.0.1:5085", OutsideLinePrefix = "1" },
        RepeatPause = TimeSpan.FromMilliseconds(10),
    };

    private readonly Owned _owned = new();

    [TearDown]
    public Task Dispose() => _owned.DisposeAllAsync();

    private async Task<(MediaRig Rig, CallManager Calls, ChangeLog Changes, SpySynthesizer Speech)> StartAsync(TimeSpan? transactionTimeout = null)
    {
        var rig = await MediaRig.ConnectAsync("mrf-endpoint-play", transactionTimeout: transactionTimeout);
        _owned.Add(rig);
        var speech = new SpySynthesizer();
        var calls = new CallManager(Options, new SipCallBackend(rig.Client, new MediaServerPool([rig.Server]), Options), speech, TestLog.Factory);
        _owned.Add(calls);
        var changes = new ChangeLog(calls) { OnChange = c => speech.Note("state " + c.To) };
        return (rig, calls, changes, speech);
    }

    [Test]
    public async Task An_answered_call_plays_the_message_then_hangs_up_the_phone_and_the_endpoint_as_captured()
    {
        var (rig, calls, changes, speech) = await StartAsync();
        var placed = calls.Place(new CallRequest { To = "+15551234567", Message = "Hello from the lab" });

        var outbound = await rig.PlayEndpointCreationAsync();
        string? offered = null;
        await rig.Signalling.ExpectClientAsync((captured, actual) =>
        {
            Assert.That(actual.Fields[1..], Is.EqualTo(captured.HeaderFields[1..]));
            Assert.That(actual.Sip.ToString(), Is.EqualTo("INVITE sip:15551234567@127.0.0.1:5085"));
            offered = actual.Sip.Body;
        });
        Assert.That(Sdp.MediaProfiles(offered!), Is.EqualTo(new[] { "RTP/AVP" }), "the phone is offered plain RTP, never the SAVP stream");
        await rig.Signalling.PlayAsync(2); // echo, 180 Ringing
        await changes.ReachAsync(placed.CallId, CallState.Ringing);
        await rig.Signalling.PlayAsync(3); // 200 OK with the phone's SDP, our ACK, its echo
        rig.SkipToEndpointReinvite();
        await rig.Signalling.PlayAsync(5); // the endpoint re-INVITEd with the phone's SDP

        // drachtio-fsmrf played a tone first; the call plays only the message: skip to the speak command.
        var speak = outbound.Messages.ToList().FindIndex(m => m.From == Side.App && Encoding.UTF8.GetString(m.Bytes).Contains("execute-app-name: speak", StringComparison.Ordinal));
        outbound.Skip(speak - outbound.Position);
        await outbound.ExpectClientAsync(); // speak flite|kal|Hello from the lab
        await outbound.PlayServerAsync(); // +OK, EXECUTE, EXECUTE_COMPLETE

        await rig.Signalling.PlayAsync(3); // BYE to the phone, echo, 200 OK
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip"); // then the endpoint's dialog
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"));
        Assert.That(bye.Fields[3], Is.EqualTo("f33127b5-60c7-1240-da9f-925dacc98fbd;from-tag=ajNF9t651FvcK"));
        await rig.AnswerByeAsync(bye);
        outbound.Skip(outbound.Messages.ToList().FindLastIndex(m => m.From == Side.App) + 2 - outbound.Position);
        await outbound.PlayToEndAsync();
        await outbound.Peer.CloseAsync();

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That(changes.Of(placed.CallId).Select(c => (c.To, c.SipStatus)), Is.EqualTo(new (CallState, int?)[]
        {
            (CallState.Queued, null), (CallState.Dialing, null), (CallState.Ringing, 180), (CallState.Playing, 200), (CallState.Completed, null),
        }));
        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
        Assert.That(ended.Simulated, Is.False);
        var events = speech.Events;
        Assert.That(events.IndexOf("synthesize"), Is.LessThan(events.IndexOf("state Playing")), "the message was rendered before the answer: " + string.Join(", ", events));
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);
        await rig.Signalling.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    [Test]
    public async Task A_busy_callee_fails_the_call_and_the_endpoint_is_destroyed()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var placed = calls.Place(new CallRequest { To = "+15551234567", Message = "Hello from the lab" });
        await rig.PlayEndpointCreationAsync();
        await rig.Signalling.ExpectClientAsync((_, actual) => Assert.That(actual.Sip.Method, Is.EqualTo("INVITE")));
        await rig.Signalling.PlayAsync(2); // echo, 180
        await SendPhoneFinalAsync(rig, 486, "Busy Here");

        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"), "the endpoint is released");
        Assert.That(bye.Fields[3], Does.StartWith("f33127b5-"), "the FreeSWITCH dialog, not the phone's");
        await rig.AnswerByeAsync(bye);
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason, ended.SipStatus), Is.EqualTo((CallState.Failed, "busy", (int?)486)));
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);
    }

    [Test]
    public async Task Hanging_up_while_it_rings_sends_CANCEL_and_releases_the_endpoint()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var placed = calls.Place(new CallRequest { To = "+15551234567", Message = "Hello from the lab" });
        await rig.PlayEndpointCreationAsync();
        await rig.Signalling.ExpectClientAsync((_, actual) => Assert.That(actual.Sip.Method, Is.EqualTo("INVITE")));
        await rig.Signalling.PlayAsync(2); // echo, 180
        await changes.ReachAsync(placed.CallId, CallState.Ringing);

        var hangup = calls.HangupAsync(placed.CallId);
        var cancel = await rig.Signalling.Peer.ReceiveAsync();
        Assert.That(cancel.Sip.Method, Is.EqualTo("CANCEL"), cancel.ToString());
        await rig.Signalling.Peer.AcknowledgeAsync(cancel, "cancel-txn", "CANCEL sip:15551234567@127.0.0.1:5085 SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        await SendPhoneFinalAsync(rig, 487, "Request Terminated");

        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"));
        Assert.That(bye.Fields[3], Does.StartWith("f33127b5-"));
        await rig.AnswerByeAsync(bye);
        Assert.That(await hangup.Within(), Is.True);
        var ended = calls.Get(placed.CallId)!;
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Failed, "canceled")));
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task Nobody_answering_within_the_ring_timeout_sends_CANCEL_and_fails_as_no_answer()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var placed = calls.Place(new CallRequest { To = "+15551234567", Message = "Hello from the lab", RingTimeout = TimeSpan.FromSeconds(5) });
        await rig.PlayEndpointCreationAsync();
        await rig.Signalling.ExpectClientAsync((_, actual) => Assert.That(actual.Sip.Method, Is.EqualTo("INVITE")));
        await rig.Signalling.PlayAsync(2); // echo, 180

        var cancel = await rig.Signalling.Peer.ReceiveAsync(TimeSpan.FromSeconds(8));
        Assert.That(cancel.Sip.Method, Is.EqualTo("CANCEL"));
        await rig.Signalling.Peer.AcknowledgeAsync(cancel, "cancel-txn", "CANCEL sip:15551234567@127.0.0.1:5085 SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        await SendPhoneFinalAsync(rig, 487, "Request Terminated");
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((bye.Sip.Method, bye.Fields[3][..9]), Is.EqualTo(("BYE", "f33127b5-")));
        await rig.AnswerByeAsync(bye);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason, ended.SipStatus), Is.EqualTo((CallState.Failed, "no_answer", (int?)487)));
        Assert.That(ended.At - changes.Of(placed.CallId)[1].At, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(5)));
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);
    }

    [Test]
    public async Task Hanging_up_while_the_endpoint_is_being_created_releases_it()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var placed = calls.Place(new CallRequest { To = "+15551234567", Message = "Hello from the lab" });
        await rig.ExpectEndpointInviteAsync();
        await rig.Signalling.PlayAsync(2);
        await rig.ExpectRecvOnlyAckAsync();
        await rig.Signalling.PlayAsync(1);
        Assert.That(calls.Get(placed.CallId)!.State, Is.EqualTo(CallState.Dialing));

        var hangup = calls.HangupAsync(placed.CallId);
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((bye.Sip.Method, bye.Fields[3][..9]), Is.EqualTo(("BYE", "f33127b5-")));
        await rig.AnswerByeAsync(bye);
        Assert.That(await hangup.Within(), Is.True);
        Assert.That(calls.Get(placed.CallId)!.Reason, Is.EqualTo("canceled"));
        await Poll.UntilAsync(() => rig.Client.Dialogs.Count == 0);
        await rig.Signalling.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    [Test]
    public async Task Hanging_up_during_the_message_stops_it_and_hangs_up_both_legs()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var (placed, outbound) = await PlayingAsync(rig, calls, changes);

        var hangup = calls.HangupAsync(placed.CallId);
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo("api uuid_break 19536a5e-32e6-4c0d-8b3f-af4ca170f0fb all"), "the message stops on the wire");
        await outbound.Peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        await rig.Signalling.PlayAsync(3); // BYE to the phone, as captured; echo; 200 OK
        await ReleaseEndpointAsync(rig, outbound);

        Assert.That(await hangup.Within(), Is.True);
        var ended = calls.Get(placed.CallId)!;
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, "local_hangup")));
        Assert.That(ended.Duration, Is.Not.Null);
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);
    }

    [Test]
    public async Task The_callee_hanging_up_during_the_message_completes_the_call_and_releases_the_endpoint()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var (placed, outbound) = await PlayingAsync(rig, calls, changes);

        const string phoneDialog = "f3343906-60c7-1240-da9f-925dacc98fbd;from-tag=BUe8apQ9yrjZe";
        var bye = "BYE sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5085;branch=z9hG4bK-phone-bye\r\n" +
                  "From: <sip:15551234567@127.0.0.1:5085>;tag=1165SIPpTag011\r\nTo: <sip:127.0.0.1:5060>;tag=BUe8apQ9yrjZe\r\n" +
                  "Call-ID: f3343906-60c7-1240-da9f-925dacc98fbd\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
        await rig.Signalling.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|sip|network|{bye.Length}|udp|127.0.0.1|5085|12:00:00.000000|phone-bye|{phoneDialog}|\r\n{bye}");
        var ok = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((ok.Fields[2], ok.Sip.StatusCode), Is.EqualTo(("phone-bye", 200)));
        await rig.Signalling.Peer.AcknowledgeAsync(ok, "phone-bye", ok.Text[(ok.Text.IndexOf('\n') + 1)..]);

        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo("api uuid_break 19536a5e-32e6-4c0d-8b3f-af4ca170f0fb all"));
        await outbound.Peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        await ReleaseEndpointAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "remote_hangup")));
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);
        await rig.Signalling.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    [Test]
    public async Task A_phone_slow_to_answer_its_BYE_does_not_hold_the_FreeSWITCH_channel_up()
    {
        // As in production, a BYE waits long for its answer (40 s by default; here 20 s, longer than any step of the test).
        var (rig, calls, changes, _) = await StartAsync(transactionTimeout: TimeSpan.FromSeconds(20));
        var (placed, outbound) = await PlayingAsync(rig, calls, changes);
        await outbound.PlayServerAsync(); // the message ends: CHANNEL_EXECUTE_COMPLETE

        await rig.Signalling.ExpectClientAsync(); // BYE to the phone, as captured; no echo, no answer yet
        // The endpoint's BYE goes out without waiting for the phone's answer, and FreeSWITCH's channel closes.
        await ReleaseEndpointAsync(rig, outbound);
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0);

        await rig.Signalling.PlayAsync(2); // the phone's BYE: echo, 200 OK
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "announce_complete")));
        await Poll.UntilAsync(() => rig.Client.Dialogs.Count == 0);
        await rig.Signalling.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    [Test]
    public async Task FreeSWITCH_failing_during_the_message_fails_the_call_and_hangs_up_the_phone()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var (placed, outbound) = await PlayingAsync(rig, calls, changes);

        await outbound.Peer.CloseAsync(); // FreeSWITCH drops the channel's socket: no hangup event, no BYE

        // Both legs are hung up: the phone with the captured BYE, the FreeSWITCH dialog once its socket is gone.
        var byes = new List<ClientFrame> { await rig.Signalling.Peer.ReceiveAsync("sip"), await rig.Signalling.Peer.ReceiveAsync("sip") };
        Assert.That(byes.Select(b => b.Sip.Method), Is.All.EqualTo("BYE"));
        Assert.That(byes.Select(b => b.Fields[3][..9]), Is.EquivalentTo(new[] { "f3343906-", "f33127b5-" }));
        foreach (var bye in byes)
        {
            await rig.AnswerByeAsync(bye, bye.Fields[3].StartsWith("f3343906-", StringComparison.Ordinal) ? "5085" : "5090");
        }
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, "media_error")));
        Assert.That(ended.Detail, Does.Contain("MEDIA_SERVER_LOST"));
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);
    }

    [Test]
    public async Task Losing_drachtio_server_during_the_message_fails_the_call_as_signalling_lost_and_hangs_FreeSWITCH_up()
    {
        var (rig, calls, changes, _) = await StartAsync();
        var (placed, outbound) = await PlayingAsync(rig, calls, changes);

        await rig.Signalling.Peer.CloseAsync(); // drachtio-server goes away; nobody hung up

        // The FreeSWITCH channel is hung up over the Event Socket, which is still there (the playback is broken off too).
        var commands = new List<string>();
        while (!commands.Any(c => c.StartsWith("sendmsg 19536a5e-32e6-4c0d-8b3f-af4ca170f0fb\ncall-command: hangup", StringComparison.Ordinal)))
        {
            var command = await outbound.Peer.ReceiveCommandAsync();
            commands.Add(command);
            await outbound.Peer.SendAsync(command.StartsWith("api ", StringComparison.Ordinal)
                ? "Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
                : "Content-Type: command/reply\nReply-Text: +OK\n\n");
        }
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, "signalling_lost")));
        Assert.That(ended.Detail, Does.Contain("hung up once it is back"));
    }

    /// <summary>Plays the captured call up to the speak command; FreeSWITCH has accepted it and is speaking.</summary>
    private static async Task<(CallSnapshot Placed, EslReplay Outbound)> PlayingAsync(MediaRig rig, CallManager calls, ChangeLog changes)
    {
        var placed = calls.Place(new CallRequest { To = "+15551234567", Message = "Hello from the lab" });
        var outbound = await rig.PlayEndpointCreationAsync();
        await rig.Signalling.ExpectClientAsync((_, actual) => Assert.That(actual.Sip.Method, Is.EqualTo("INVITE")));
        await rig.Signalling.PlayAsync(5); // echo, 180, 200, ACK, echo
        rig.SkipToEndpointReinvite();
        await rig.Signalling.PlayAsync(5);
        var speak = outbound.Messages.ToList().FindIndex(m => m.From == Side.App && Encoding.UTF8.GetString(m.Bytes).Contains("execute-app-name: speak", StringComparison.Ordinal));
        outbound.Skip(speak - outbound.Position);
        await outbound.ExpectClientAsync();
        await outbound.PlayAsync(2); // +OK, CHANNEL_EXECUTE
        await changes.ReachAsync(placed.CallId, CallState.Playing);
        return (placed, outbound);
    }

    /// <summary>The endpoint's BYE to FreeSWITCH, answered, and FreeSWITCH's closing events and FIN.</summary>
    private static async Task ReleaseEndpointAsync(MediaRig rig, EslReplay outbound)
    {
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((bye.Sip.Method, bye.Fields[3][..9]), Is.EqualTo(("BYE", "f33127b5-")));
        await rig.AnswerByeAsync(bye);
        outbound.Skip(outbound.Messages.ToList().FindLastIndex(m => m.From == Side.App) + 2 - outbound.Position);
        await outbound.PlayToEndAsync();
        await outbound.Peer.CloseAsync();
    }

    /// <summary>A final response from the phone to its INVITE, made from the capture's 200 OK (same transaction and tags).</summary>
    private static Task SendPhoneFinalAsync(MediaRig rig, int status, string reason)
    {
        var ok = rig.Signalling.Frames.First(f => f.From == Side.Server && f.Message.Contains("\r\nSIP/2.0 200 OK", StringComparison.Ordinal) && f.Message.Contains("SIPpTag", StringComparison.Ordinal)).Message;
        var firstLine = ok[..ok.IndexOf("\r\n", StringComparison.Ordinal)];
        var sip = ok[(firstLine.Length + 2)..];
        var headers = sip[..sip.IndexOf("\r\n\r\n", StringComparison.Ordinal)].Split("\r\n")
            .Where(h => !h.StartsWith("Content-", StringComparison.OrdinalIgnoreCase) && !h.StartsWith("Contact", StringComparison.OrdinalIgnoreCase))
            .Skip(1);
        var response = $"SIP/2.0 {status} {reason}\r\n{string.Join("\r\n", headers)}\r\nContent-Length: 0\r\n\r\n";
        var fields = firstLine.Split('|');
        fields[0] = FakeDrachtioPeer.NewId();
        fields[3] = Encoding.UTF8.GetByteCount(response).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return rig.Signalling.Peer.SendAsync(string.Join('|', fields) + "\r\n" + response);
    }
}
