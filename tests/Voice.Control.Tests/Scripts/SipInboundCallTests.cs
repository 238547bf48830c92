using System.Text.Json;
using Voice.Control.Backends;
using Voice.Control.Calls;
using Voice.Control.Media;
using Voice.Control.Scripts;
using Voice.Control.Tests.Calls;
using Voice.Control.Tests.Media;
using Voice.Control.Tests.Support;
using static Voice.Control.Tests.Scripts.ScriptCallTests;

namespace Voice.Control.Tests.Scripts;

/// <summary>
/// Calls that come in as INVITEs, through the drachtio client, the orchestrator and a media server, against the fake
/// drachtio-server replaying the captured call-inbound exchange (SIPp calling 15551234567) on the same link as the captured
/// mrf-play-collect media flow, and the fake FreeSWITCH replaying that flow's Event Socket sessions.
/// </summary>
public class SipInboundCallTests
{
    private const string Caller = "sipp";
    private readonly Owned _owned = new();

    [TearDown]
    public Task Dispose() => _owned.DisposeAllAsync();

    private sealed record Rig(MediaRig Media, CallManager Calls, ChangeLog Changes, FakeHook Hook, FileSpeech Speech, CaptureReplay Inbound, List<string> Arrived)
    {
        public FakeDrachtioPeer Peer => Media.Signalling.Peer;

        public string CallId => Arrived.Single();
    }

    /// <summary>Both fakes connected; INVITEs to 15551234567 run <c>alerts</c>, whose definition <paramref name="alerts"/> gives.</summary>
    private async Task<Rig> StartAsync(Func<FakeHook, CallApplication> alerts, Func<CallOptions, CallOptions>? adjust = null)
    {
        var media = await MediaRig.ConnectAsync("mrf-play-collect");
        _owned.Add(media);
        var hook = _owned.Add(new FakeHook());
        var options = new CallOptions
        {
            RepeatPause = TimeSpan.FromMilliseconds(10),
            HookTimeout = TimeSpan.FromSeconds(2),
            Applications = new Dictionary<string, CallApplication> { ["alerts"] = alerts(hook) },
            InboundRoutes = [new InboundRoute("15551234567", "alerts")],
        };
        options = adjust?.Invoke(options) ?? options;
        var speech = new FileSpeech();
        var pool = new MediaServerPool([media.Server]);
        var calls = _owned.Add(new CallManager(options, new SipCallBackend(media.Client, pool, options), speech, TestLog.Factory,
            hooks: new HttpCallHooks(new HttpClient(), "hook-secret"u8.ToArray())));
        var arrived = new List<string>();
        calls.CallArrived += (_, call) =>
        {
            lock (arrived)
            {
                arrived.Add(call.CallId);
            }
        };
        var changes = new ChangeLog(calls);
        media.Client.AcceptInvites(new SipInboundCalls(calls, pool, options, TestLog.For<CallManager>()).TakeAsync);
        var inbound = new CaptureReplay(media.Signalling.Peer, InboundCapture.Frames);
        inbound.Skip(InboundCapture.Route);
        await inbound.PlayAsync(2); // route|invite (checked against the capture), OK
        return new Rig(media, calls, changes, hook, speech, inbound, arrived);
    }

    private static CallScript Script(string json) => CallScript.Parse(JsonDocument.Parse(json).RootElement);

    /// <summary>The captured INVITE arrives and the client tells the caller it rings (180, echoed as drachtio-server does).</summary>
    private static async Task RingsAsync(Rig rig)
    {
        await rig.Inbound.PlayAsync(1); // the INVITE
        var ringing = await rig.Peer.ReceiveAsync("sip");
        Assert.That((ringing.Fields[2], ringing.Sip.StatusCode, ringing.Sip.ReasonPhrase), Is.EqualTo((InboundCapture.TransactionId, 180, "Ringing")));
        await rig.Peer.SendAsync(InboundCapture.EchoOf(ringing.Id, "180 Ringing"));
    }

    /// <summary>
    /// The endpoint is made with the caller's offer, and the caller gets FreeSWITCH's answer in our 200 (as drachtio-srf's
    /// was captured: the INVITE's Call-ID, CSeq, From and To); the echo and the caller's ACK follow. Returns the Event Socket session.
    /// </summary>
    private static async Task<EslReplay> AnsweredAsync(Rig rig)
    {
        var (outbound, answer) = await rig.Media.PlayEndpointAnsweringAsync(InboundCapture.Offer);
        await rig.Inbound.ExpectClientAsync((captured, actual) =>
        {
            Assert.That(actual.Fields[1..], Is.EqualTo(captured.HeaderFields[1..]), "answered on the INVITE's transaction");
            var expected = captured.Sip;
            Assert.That(actual.Sip.ToString(), Is.EqualTo(expected.ToString()));
            foreach (var name in new[] { "Call-ID", "CSeq", "From", "To" })
            {
                Assert.That(actual.Sip.GetHeader(name), Is.EqualTo(expected.GetHeader(name)), name);
            }
            Assert.That(actual.Sip.Body, Is.EqualTo(answer), "FreeSWITCH's answer to the caller's offer, as it is");
        });
        await rig.Inbound.PlayAsync(2); // echo (the dialog id, our tag), the caller's ACK
        await rig.Changes.ReachAsync(rig.CallId, CallState.Playing);
        return outbound;
    }

    /// <summary>The script ended: BYE to the caller and to the endpoint (either first), each answered; the endpoint's session closes.</summary>
    private static async Task HangsUpBothAsync(Rig rig, EslReplay outbound)
    {
        var dialogs = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var bye = await rig.Peer.ReceiveAsync("sip");
            Assert.That(bye.Sip.Method, Is.EqualTo("BYE"));
            dialogs.Add(bye.Fields[3]);
            await rig.Media.AnswerByeAsync(bye);
        }
        Assert.That(dialogs, Does.Contain(InboundCapture.DialogId), "the caller's dialog");
        Assert.That(dialogs.Count(d => d.StartsWith("0877a937-", StringComparison.Ordinal)), Is.EqualTo(1), "the endpoint's dialog");
        await CloseEndpointSessionAsync(outbound);
    }

    private static async Task CloseEndpointSessionAsync(EslReplay outbound)
    {
        outbound.Skip(outbound.Messages.ToList().FindLastIndex(m => m.From == Side.App) + 2 - outbound.Position);
        await outbound.PlayToEndAsync();
        await outbound.Peer.CloseAsync();
    }

    /// <summary>Only the endpoint is hung up (the caller's dialog is over, or never was): its BYE answered, its session closed.</summary>
    private static async Task EndpointReleasedAsync(Rig rig, EslReplay outbound, string because)
    {
        var bye = await rig.Peer.ReceiveAsync("sip");
        Assert.That(bye.Fields[3], Does.StartWith("0877a937-"), because);
        await rig.Media.AnswerByeAsync(bye);
        await CloseEndpointSessionAsync(outbound);
    }

    /// <summary>The call ended as the caller's cancellation, and nothing is left or sent after it.</summary>
    private static async Task EndedCanceledAsync(Rig rig)
    {
        var ended = await rig.Changes.FinalAsync(rig.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, CallReasons.Canceled)), ended.Detail);
        await NothingLeftAsync(rig);
        await rig.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(300));
    }

    private static async Task NothingLeftAsync(Rig rig)
    {
        await ScriptCallTests.NothingLeftAsync(rig.Media);
        Assert.That(rig.Media.Client.PendingInvites, Is.Zero);
    }

    [Test]
    public async Task A_call_in_runs_its_hooks_verbs_with_a_gather_and_the_caller_is_hung_up_after()
    {
        var rig = await StartAsync(hook => new CallApplication { CallHook = hook.Url("/call") });
        rig.Hook.Answer("/call", """[{"verb":"gather","numDigits":1,"say":{"text":"Press 1 to hear the alerts."}},{"verb":"say","text":"Goodbye."}]""");
        await RingsAsync(rig);
        var outbound = await AnsweredAsync(rig);

        var collect = await ExecuteAsync(outbound, key: '1');
        Assert.That((App(collect), Arguments(collect)[5]), Is.EqualTo(("play_and_get_digits", FileSpeech.PathOf("Press 1 to hear the alerts."))));
        var goodbye = await ExecuteAsync(outbound);
        Assert.That(Header(goodbye, "execute-app-arg: "), Is.EqualTo(FileSpeech.PathOf("Goodbye.")));
        await HangsUpBothAsync(rig, outbound);

        var ended = await rig.Changes.FinalAsync(rig.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete)));
        Assert.That(ended.Results.Digits, Is.EqualTo("1"));
        var snapshot = rig.Calls.Get(rig.CallId)!;
        Assert.That((snapshot.Direction, snapshot.Source, snapshot.Application, snapshot.CallerId, snapshot.To),
            Is.EqualTo(("inbound", "sip", "alerts", Caller, "15551234567")));
        var told = rig.Hook.Calls.Single().Body;
        Assert.That((told.GetProperty("from").GetString(), told.GetProperty("to").GetString(), told.GetProperty("source").GetString()),
            Is.EqualTo((Caller, "15551234567", "sip")));
        Assert.That(told.GetProperty("variables").GetProperty("Subject").GetString(), Is.EqualTo("Performance Test"), "the INVITE's headers");
        Assert.That(told.GetProperty("variables").TryGetProperty("Via", out _), Is.False, "not its transport headers");
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task The_caller_hanging_up_mid_script_is_answered_as_captured_and_the_endpoint_is_released()
    {
        var rig = await StartAsync(_ => new CallApplication { Script = Script("""[{"verb":"say","text":"A long message about the alerts."}]""") });
        await RingsAsync(rig);
        var outbound = await AnsweredAsync(rig);
        outbound.Skip(CapturedCollect(outbound) - outbound.Position);
        await outbound.ExpectClientAsync((_, actual) => Assert.That(App(actual), Is.EqualTo("playback")));
        await outbound.PlayAsync(2); // +OK, CHANNEL_EXECUTE: the message plays

        await rig.Inbound.PlayAsync(3); // the caller's BYE, our 200 (checked against drachtio-srf's), its echo
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Does.StartWith("api uuid_break "), "the message stops on the wire");
        await outbound.Peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        await EndpointReleasedAsync(rig, outbound, "only the endpoint is hung up; the caller's dialog is over");

        var ended = await rig.Changes.FinalAsync(rig.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.RemoteHangup)));
        await NothingLeftAsync(rig);
        await rig.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    [Test]
    public async Task A_CANCEL_while_the_hook_decides_ends_the_call_and_no_endpoint_is_made()
    {
        var rig = await StartAsync(hook => new CallApplication { CallHook = hook.Url("/hangs") });
        var asked = rig.Hook.Hang("/hangs");
        await RingsAsync(rig);
        await asked.Within();

        await rig.Peer.SendAsync(InboundCapture.Cancel());
        await EndedCanceledAsync(rig); // no endpoint INVITE, no response
        Assert.That(rig.Calls.Get(rig.CallId)!.Detail, Does.Contain("hung up before the answer"));
    }

    [Test]
    public async Task A_CANCEL_while_the_endpoint_is_being_made_cancels_that_too_and_nothing_is_left()
    {
        var rig = await StartAsync(_ => new CallApplication { Script = CallScript.Say("Hello.") });
        await RingsAsync(rig);
        await rig.Media.ExpectEndpointAnsweringInviteAsync(InboundCapture.Offer);
        var echo = rig.Media.Signalling.Next;
        await rig.Media.Signalling.PlayAsync(1); // drachtio-server's echo: the endpoint INVITE is out, FreeSWITCH has not answered

        await rig.Peer.SendAsync(InboundCapture.Cancel());
        var cancel = await rig.Peer.ReceiveAsync("sip");
        var inviteTransaction = echo.HeaderFields[10];
        Assert.That((cancel.Sip.Method, cancel.Fields[2]), Is.EqualTo(("CANCEL", inviteTransaction)), "the endpoint INVITE is cancelled");
        await rig.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|response|{cancel.Id}|OK|application|0|udp|127.0.0.1|5090|12:00:00.000000|cancel-txn|Msg sent:|\r\n{cancel.Sip}");
        await rig.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|sip|network|300|udp|127.0.0.1|5090|12:00:00.000000|{inviteTransaction}||\r\n" +
            $"SIP/2.0 487 Request Terminated\r\nCall-ID: {echo.Sip.CallId}\r\nCSeq: {echo.Sip.GetHeader("CSeq")}\r\nFrom: {echo.Sip.From}\r\nTo: {echo.Sip.To};tag=fs487\r\nContent-Length: 0\r\n\r\n");

        await EndedCanceledAsync(rig);
    }

    [Test]
    public async Task A_CANCEL_relayed_after_drachtio_server_refused_our_180_still_ends_the_call_as_the_callers()
    {
        var rig = await StartAsync(_ => new CallApplication { Script = CallScript.Say("Hello.") });
        await rig.Inbound.PlayAsync(1); // the INVITE
        var ringing = await rig.Peer.ReceiveAsync("sip");
        Assert.That(ringing.Sip.StatusCode, Is.EqualTo(180));

        // The caller cancelled at once: drachtio-server refuses the 180 for the transaction it ended, and its relay of the
        // CANCEL comes a moment later.
        await rig.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|response|{ringing.Id}|NOK|");
        await Task.Delay(100); // the relay's lateness, as the lab showed it: not a wait for the client
        await rig.Peer.SendAsync(InboundCapture.Cancel());

        await EndedCanceledAsync(rig);
    }

    [Test]
    public async Task A_CANCEL_that_crosses_our_200_ends_the_call_as_the_callers_and_releases_the_endpoint()
    {
        var rig = await StartAsync(_ => new CallApplication { Script = CallScript.Say("Hello.") });
        await RingsAsync(rig);
        var (outbound, _) = await rig.Media.PlayEndpointAnsweringAsync(InboundCapture.Offer);
        var ours = await rig.Peer.ReceiveAsync("sip");
        Assert.That(ours.Sip.StatusCode, Is.EqualTo(200));

        // The CANCEL reached drachtio-server first: it relays it, then refuses the 200 for a transaction it has ended
        // (doRespondToSipRequest: no such transaction, NOK with an empty reason).
        await rig.Peer.SendAsync(InboundCapture.Cancel());
        await rig.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|response|{ours.Id}|NOK|");

        await EndpointReleasedAsync(rig, outbound, "the endpoint made for the caller is released");
        await EndedCanceledAsync(rig);
    }

    [Test]
    public async Task When_the_call_hook_is_down_the_caller_hears_the_fallback_and_the_reason_is_on_the_call()
    {
        var rig = await StartAsync(hook => new CallApplication { CallHook = hook.Url("/down"), Fallback = CallScript.Say("The alert line is resting.") });
        rig.Hook.Answer("/down", status: 500);
        await RingsAsync(rig);
        var outbound = await AnsweredAsync(rig);

        var said = await ExecuteAsync(outbound);
        Assert.That(Header(said, "execute-app-arg: "), Is.EqualTo(FileSpeech.PathOf("The alert line is resting.")), "never a silent line");
        await HangsUpBothAsync(rig, outbound);

        var ended = await rig.Changes.FinalAsync(rig.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.ApplicationFailed)));
        Assert.That(ended.Detail, Does.Contain("500"));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_call_to_a_number_no_route_matches_is_refused_404_with_the_reason()
    {
        var rig = await StartAsync(_ => new CallApplication { Script = CallScript.Say("Hello.") },
            options => options with { InboundRoutes = [new InboundRoute("4000", "alerts")] });
        await rig.Inbound.PlayAsync(1); // the INVITE, to 15551234567

        var refusal = await rig.Peer.ReceiveAsync("sip");
        Assert.That((refusal.Fields[2], refusal.Sip.StatusCode, refusal.Sip.ReasonPhrase), Is.EqualTo((InboundCapture.TransactionId, 404, "Not Found")));
        Assert.That(refusal.Sip.GetHeader("Reason"), Is.EqualTo("SIP ;cause=404 ;text=\"no application for '15551234567'\""));
        await rig.Peer.SendAsync(InboundCapture.EchoOf(refusal.Id, "404 Not Found"));
        Assert.That(rig.Arrived, Is.Empty, "no call to record");
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_denied_caller_gets_403_and_a_call_over_the_limit_503_each_with_its_reason()
    {
        var rig = await StartAsync(hook => new CallApplication { CallHook = hook.Url("/slow") },
            options => options with { DeniedCallers = ["evil*"], MaxConcurrentCalls = 1 });
        rig.Hook.Answer("/slow", """[{"verb":"say","text":"Hello."}]""", delay: TimeSpan.FromSeconds(2));
        await RingsAsync(rig); // the first call takes the one slot while its hook decides

        // A second caller, and a denied one: the captured INVITE with another Call-ID, From and transaction.
        foreach (var (user, status, reason) in new[] { ("sipq", 503, "at its limit of 1 calls at once"), ("evil", 403, "the caller is on the deny list") })
        {
            var transaction = Guid.NewGuid().ToString();
            await rig.Peer.SendAsync(InboundCapture.InviteFrame(invite => invite
                .Replace(InboundCapture.TransactionId, transaction, StringComparison.Ordinal)
                .Replace("1-25136@127.0.0.1", $"{user}-call@127.0.0.1", StringComparison.Ordinal)
                .Replace("sip:sipp@", $"sip:{user}@", StringComparison.Ordinal)));
            var refusal = await rig.Peer.ReceiveAsync("sip");
            Assert.That((refusal.Fields[2], refusal.Sip.StatusCode), Is.EqualTo((transaction, status)), user);
            Assert.That(refusal.Sip.GetHeader("Reason"), Does.StartWith($"SIP ;cause={status} ;text=\"").And.Contain(reason));
            await rig.Peer.SendAsync(InboundCapture.EchoOf(refusal.Id, $"{status} Refused"));
        }
        var refused = rig.Arrived.Skip(1).Select(id => rig.Calls.Get(id)!).ToList();
        Assert.That(refused.Select(c => (c.CallerId, c.State)), Is.EqualTo(new[] { ("sipq", CallState.Failed), ("evil", CallState.Failed) }));

        await rig.Peer.SendAsync(InboundCapture.Cancel()); // the first caller gives up
        await rig.Changes.FinalAsync(rig.Arrived[0]);
        await NothingLeftAsync(rig);
    }
}
