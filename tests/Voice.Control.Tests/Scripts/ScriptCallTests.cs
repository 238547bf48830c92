using System.Text;
using System.Text.Json;
using Voice.Control.Backends;
using Voice.Control.Calls;
using Voice.Control.Media;
using Voice.Control.Net;
using Voice.Control.Phone;
using Voice.Control.Scripts;
using Voice.Control.Tests.Calls;
using Voice.Control.Tests.Media;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Scripts;

/// <summary>
/// Call scripts through the orchestrator on the real backend, against the fake drachtio-server and FreeSWITCH replaying
/// the captured mrf-play-collect call (a phone answering, then pressing 1 during play_and_get_digits, as RFC 2833).
/// Commands after the captured one are answered with FreeSWITCH's captured events for it, under the new command's id.
/// </summary>
public class ScriptCallTests
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("hook-secret");

    private static readonly CallOptions Options = new()
    {
        DialPlan = new DialPlan { Host = "127.0.0.1:5085", OutsideLinePrefix = "1" },
        RepeatPause = TimeSpan.FromMilliseconds(10),
        HookTimeout = TimeSpan.FromSeconds(1),
    };

    private readonly Owned _owned = new();

    [TearDown]
    public Task Dispose() => _owned.DisposeAllAsync();

    /// <summary>Speech as files FreeSWITCH plays, one per text, so every command on the wire names what it says.</summary>
    internal sealed class FileSpeech : ISpeechSynthesizer
    {
        private readonly List<string> _rendered = [];

        public IReadOnlyList<string> Rendered
        {
            get
            {
                lock (_rendered)
                {
                    return [.. _rendered];
                }
            }
        }

        public static string PathOf(string text) => $"/var/lib/voicebridge/speech/{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16]}.wav";

        public Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct)
        {
            lock (_rendered)
            {
                _rendered.Add(text);
            }
            return Task.FromResult(new SpeechAudio { Provider = "test", Source = PathOf(text), Duration = TimeSpan.FromSeconds(1) });
        }
    }

    private async Task<(MediaRig Rig, CallManager Calls, ChangeLog Changes, FakeHook Hook, FileSpeech Speech)> StartAsync(CallOptions? options = null)
    {
        options ??= Options;
        var rig = await MediaRig.ConnectAsync("mrf-play-collect");
        _owned.Add(rig);
        var hook = new FakeHook();
        _owned.Add(hook);
        var speech = new FileSpeech();
        var calls = new CallManager(options, new SipCallBackend(rig.Client, new MediaServerPool([rig.Server]), options), speech, TestLog.Factory,
            hooks: new HttpCallHooks(new HttpClient(), Secret));
        _owned.Add(calls);
        return (rig, calls, new ChangeLog(calls), hook, speech);
    }

    private static CallScript Script(string json) => CallScript.Parse(JsonDocument.Parse(json).RootElement);

    /// <summary>Places the call and plays the capture up to FreeSWITCH's first command: the phone answered, the endpoint points at it.</summary>
    private static async Task<(CallSnapshot Placed, EslReplay Outbound)> AnsweredAsync(MediaRig rig, CallManager calls, ChangeLog changes, CallRequest request)
    {
        var placed = calls.Place(request);
        var outbound = await rig.PlayEndpointCreationAsync();
        await rig.Signalling.ExpectClientAsync((_, actual) => Assert.That(actual.Sip.ToString(), Is.EqualTo("INVITE sip:15551234567@127.0.0.1:5085")));
        await rig.Signalling.PlayAsync(5); // echo, 180, 200 OK, ACK, echo
        rig.SkipToEndpointReinvite();
        await rig.Signalling.PlayAsync(5); // the endpoint re-INVITEd with the phone's SDP
        await changes.ReachAsync(placed.CallId, CallState.Playing);
        return (placed, outbound);
    }

    internal static int CapturedCollect(EslReplay outbound) => outbound.Messages.ToList().FindIndex(m =>
        m.From == Side.App && Encoding.UTF8.GetString(m.Bytes).Contains("execute-app-name: play_and_get_digits", StringComparison.Ordinal));

    internal static string App(string sendmsg) => Header(sendmsg, "execute-app-name: ");

    internal static string Header(string sendmsg, string name) => sendmsg.Split('\n').Single(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..];

    internal static string[] Arguments(string sendmsg) => Header(sendmsg, "execute-app-arg: ").Split(' ');

    /// <summary>
    /// Reads our next command in place of the captured play_and_get_digits, and answers it with FreeSWITCH's captured
    /// events for that one (+OK, EXECUTE, PLAYBACK_START/STOP, DTMF, EXECUTE_COMPLETE), the callee pressing <paramref name="key"/>.
    /// </summary>
    internal static async Task<string> ExecuteAsync(EslReplay outbound, char key = '1')
    {
        outbound.Skip(CapturedCollect(outbound) - outbound.Position);
        var command = await outbound.ExpectClientAsync((_, _) => { });
        if (App(command) == "play_and_get_digits")
        {
            var variable = Arguments(command)[7];
            outbound.Map("myDigitBuffer", variable);
            outbound.Map($"{variable}\":\"1\"", $"{variable}\":\"{key}\"");
        }
        outbound.Map("\"DTMF-Digit\":\"1\"", $"\"DTMF-Digit\":\"{key}\"");
        await outbound.PlayServerAsync();
        return command;
    }

    /// <summary>The script ended: BYE to the phone as captured, then the endpoint released.</summary>
    private static async Task HangsUpAsync(MediaRig rig, EslReplay outbound)
    {
        await rig.Signalling.PlayAsync(3); // BYE to the phone, echo, 200 OK
        await ReleaseEndpointAsync(rig, outbound);
    }

    private static async Task ReleaseEndpointAsync(MediaRig rig, EslReplay outbound)
    {
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((bye.Sip.Method, bye.Fields[3][..9]), Is.EqualTo(("BYE", "0877a937-")), "the endpoint's dialog");
        await rig.AnswerByeAsync(bye);
        outbound.Skip(outbound.Messages.ToList().FindLastIndex(m => m.From == Side.App) + 2 - outbound.Position);
        await outbound.PlayToEndAsync();
        await outbound.Peer.CloseAsync();
    }

    internal static async Task NothingLeftAsync(MediaRig rig) =>
        await Poll.UntilAsync(() => rig.Server.Endpoints.Count == 0 && rig.Client.Dialogs.Count == 0);

    [Test]
    public async Task A_gather_without_a_hook_collects_the_key_and_the_call_ends_with_it()
    {
        var (rig, calls, changes, _, speech) = await StartAsync();
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest
        {
            To = "+15551234567",
            Script = Script("""[{"verb":"gather","numDigits":1,"timeout":5,"say":{"text":"Press 1 to restart nginx."}}]"""),
        });

        var collect = await ExecuteAsync(outbound);
        Assert.That(App(collect), Is.EqualTo("play_and_get_digits"));
        var arguments = Arguments(collect);
        Assert.That(arguments.Select((a, i) => i == 7 ? "var" : a), Is.EqualTo(new[]
        {
            "1", "1", "1", "5000", "none", FileSpeech.PathOf("Press 1 to restart nginx."), "silence_stream://250", "var", "[0-9*#]+", "3000",
        }), "one key, the prompt rendered ahead, no finishing key");
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "announce_complete")));
        Assert.That(ended.Results.Gathers, Is.EqualTo(new[] { new GatherResult("verbs[0]", 1, "1", "dtmfDetected") }));
        Assert.That(ended.Results.Digits, Is.EqualTo("1"));
        Assert.That(ended.Results.Acknowledged, Is.Null, "no acknowledgement was asked for");
        Assert.That(calls.Get(placed.CallId)!.Results.Digits, Is.EqualTo("1"));
        Assert.That(speech.Rendered, Is.EqualTo(new[] { "Press 1 to restart nginx." }));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_hook_answering_with_verbs_replaces_the_rest_of_the_script_and_its_dtmf_goes_out_on_the_wire()
    {
        var (rig, calls, changes, hook, speech) = await StartAsync();
        hook.Answer("/gathered", """[{"verb":"say","text":"Restarting nginx now."},{"verb":"dtmf","dtmf":"12","duration":100}]""");
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest
        {
            To = "+15551234567",
            Tag = """{"alert":"nginx-down"}""",
            Script = Script($$"""
                [{"verb":"gather","numDigits":1,"say":{"text":"Press 1 to restart nginx."},"actionHook":"{{hook.Url("/gathered")}}"},
                 {"verb":"say","text":"This is never said."}]
                """),
        });

        await ExecuteAsync(outbound);
        var say = await ExecuteAsync(outbound);
        Assert.That((App(say), Header(say, "execute-app-arg: ")), Is.EqualTo(("playback", FileSpeech.PathOf("Restarting nginx now."))), "the hook's verbs come next");
        var dtmf = await ExecuteAsync(outbound);
        Assert.That((App(dtmf), Header(dtmf, "execute-app-arg: ")), Is.EqualTo(("send_dtmf", "12@100")));
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
        var call = hook.Calls.Single();
        Assert.That(WebhookSignature.Verify(Secret, call.Signature!, call.RawBody, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), Is.True, "signed like webhooks");
        Assert.That(call.Body.GetProperty("callId").GetString(), Is.EqualTo(placed.CallId));
        Assert.That((call.Body.GetProperty("verb").GetString(), call.Body.GetProperty("digits").GetString(), call.Body.GetProperty("reason").GetString()),
            Is.EqualTo(("gather", "1", "dtmfDetected")));
        Assert.That(call.Body.GetProperty("tag").GetProperty("alert").GetString(), Is.EqualTo("nginx-down"));
        Assert.That((call.Body.GetProperty("to").GetString(), call.Body.GetProperty("direction").GetString()), Is.EqualTo(("+15551234567", "outbound")));
        Assert.That(ended.Results.Hooks.Select(h => (h.Verb, h.Status, h.Outcome)), Is.EqualTo(new[] { ("gather", (int?)200, "replaced") }));
        Assert.That(ended.Results.DigitsSent, Is.EqualTo(new[] { "12" }));
        Assert.That(speech.Rendered.Take(3), Is.EquivalentTo(new[] { "Press 1 to restart nginx.", "This is never said.", Options.HookFailureMessage }),
            "the script's speech and the hook's fallback rendered when dialling started");
        Assert.That(speech.Rendered, Does.Contain("Restarting nginx now."));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_hook_that_does_not_answer_in_time_gets_the_fallback_said_and_the_script_goes_on()
    {
        var (rig, calls, changes, hook, _) = await StartAsync();
        hook.Answer("/slow", """[{"verb":"say","text":"Too late."}]""", delay: TimeSpan.FromSeconds(5));
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest
        {
            To = "+15551234567",
            Script = Script($$"""
                [{"verb":"gather","numDigits":1,"say":{"text":"Press 1."},"actionHook":"{{hook.Url("/slow")}}"},
                 {"verb":"say","text":"Goodbye."}]
                """),
        });

        await ExecuteAsync(outbound);
        var fallback = await ExecuteAsync(outbound);
        Assert.That(Header(fallback, "execute-app-arg: "), Is.EqualTo(FileSpeech.PathOf(Options.HookFailureMessage)), "never a silent call");
        var next = await ExecuteAsync(outbound);
        Assert.That(Header(next, "execute-app-arg: "), Is.EqualTo(FileSpeech.PathOf("Goodbye.")), "the script goes on");
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        var result = ended.Results.Hooks.Single();
        Assert.That((result.Outcome, result.Status, result.Detail), Is.EqualTo(("failed", (int?)null, "no answer within 1 s")));
        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task The_callee_hanging_up_during_a_gather_ends_the_call_and_the_hook_hears_of_it()
    {
        var (rig, calls, changes, hook, _) = await StartAsync();
        hook.Answer("/gathered", """[{"verb":"say","text":"Nobody hears this."}]""");
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest
        {
            To = "+15551234567",
            Script = Script($$"""[{"verb":"gather","numDigits":1,"say":{"text":"Press 1."},"actionHook":"{{hook.Url("/gathered")}}"}]"""),
        });
        outbound.Skip(CapturedCollect(outbound) - outbound.Position);
        await outbound.ExpectClientAsync((_, actual) => Assert.That(App(actual), Is.EqualTo("play_and_get_digits")));
        await outbound.PlayAsync(2); // +OK, CHANNEL_EXECUTE: the prompt plays

        await PhoneSendsAsync(rig, "BYE", 2, "phone-bye");
        Assert.That((await AnswerToPhoneAsync(rig, "phone-bye")).Sip.StatusCode, Is.EqualTo(200));
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo("api uuid_break 9805ae87-7aae-48cf-958b-f4125c0ef96f all"), "the prompt stops on the wire");
        await outbound.Peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        await ReleaseEndpointAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "remote_hangup")));
        Assert.That(ended.Results.Gathers, Is.EqualTo(new[] { new GatherResult("verbs[0]", 1, "", "hangup") }));
        var told = hook.Calls.Single();
        Assert.That((told.Body.GetProperty("digits").GetString(), told.Body.GetProperty("reason").GetString()), Is.EqualTo(("", "hangup")));
        Assert.That(ended.Results.Hooks.Single().Outcome, Is.EqualTo("replaced"), "answered, though nothing is left to run it on");
        await NothingLeftAsync(rig);
        await rig.Signalling.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    private const string EndpointUuid = "9805ae87-7aae-48cf-958b-f4125c0ef96f";

    /// <summary>FreeSWITCH's answer to an <c>api</c> command on the channel's socket (lab, uuid_record: <c>+OK Success</c>).</summary>
    private static Task ApiReplyAsync(EslReplay outbound, string body) =>
        outbound.Peer.SendAsync($"Content-Type: api/response\nContent-Length: {body.Length + 1}\n\n{body}\n");

    private static CallOptions Recording(string? target = null) =>
        Options with { Recording = new CallRecordingOptions { Directory = "/var/lib/voicebridge/recordings", FreeSwitchTarget = target } };

    [Test]
    public async Task Record_true_starts_recording_both_parties_in_stereo_before_the_message_and_the_call_ends_with_it_recorded()
    {
        var (rig, calls, changes, _, _) = await StartAsync(Recording());
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest { To = "+15551234567", Message = "Disk full on db-01.", Record = true });

        var start = await outbound.Peer.ReceiveCommandAsync();
        Assert.That(start, Does.Match($@"^api uuid_record {EndpointUuid} start /var/lib/voicebridge/recordings/{placed.CallId}-1-[0-9a-f]{{24}}\.wav 3600 \{{RECORD_STEREO=true\}}$"),
            "the whole call, stereo, capped at the recording limit");
        await ApiReplyAsync(outbound, "+OK Success");
        var play = await ExecuteAsync(outbound);
        Assert.That((App(play), Header(play, "execute-app-arg: ")), Is.EqualTo(("playback", FileSpeech.PathOf("Disk full on db-01."))), "then the message");
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo($"api uuid_record {EndpointUuid} stop {start.Split(' ')[4]}"),
            "stopped before the end is reported: FreeSWITCH answers once the file is closed");
        await ApiReplyAsync(outbound, "+OK Success");
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
        var recording = ended.Results.Recordings.Single();
        Assert.That((recording.Status, recording.Stereo, "/var/lib/voicebridge/recordings/" + recording.File), Is.EqualTo((RecordingStatuses.Recorded, true, start.Split(' ')[4])));
        Assert.That((recording.StoppedAt is not null, recording.Detail), Is.EqualTo((true, (string?)null)));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_recording_FreeSWITCH_refuses_is_reported_on_the_call_which_goes_on()
    {
        var (rig, calls, changes, _, _) = await StartAsync(Recording());
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest { To = "+15551234567", Message = "Disk full on db-01.", Record = true });

        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Does.StartWith($"api uuid_record {EndpointUuid} start "));
        await ApiReplyAsync(outbound, "-ERR Cannot record session!");
        var play = await ExecuteAsync(outbound);
        Assert.That(App(play), Is.EqualTo("playback"), "the message is said all the same");
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "announce_complete")), "a failed recording never fails the call");
        var recording = ended.Results.Recordings.Single();
        Assert.That(recording.Status, Is.EqualTo(RecordingStatuses.Failed));
        Assert.That(recording.Detail, Does.StartWith("could not start: ").And.Contain("-ERR Cannot record session!"));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_record_verb_uploading_to_VoiceBridge_starts_mixed_and_stops_on_the_wire_between_the_says()
    {
        var (rig, calls, changes, _, _) = await StartAsync(Recording("http://voicebridge:3000/fs/recordings/"));
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest
        {
            To = "+15551234567",
            Script = Script("""
                [{"verb":"record","action":"start","mixType":"mixed"},{"verb":"say","text":"Recorded part."},
                 {"verb":"record","action":"stop"},{"verb":"say","text":"Not recorded."}]
                """),
        });

        var start = await outbound.Peer.ReceiveCommandAsync();
        Assert.That(start, Does.Match($@"^api uuid_record {EndpointUuid} start http://voicebridge:3000/fs/recordings/{placed.CallId}-1-[0-9a-f]{{24}}\.wav 3600 \{{RECORD_STEREO=false\}}$"),
            "FreeSWITCH records a temporary file and PUTs it to VoiceBridge when the recording ends");
        await ApiReplyAsync(outbound, "+OK Success");
        Assert.That(Header(await ExecuteAsync(outbound), "execute-app-arg: "), Is.EqualTo(FileSpeech.PathOf("Recorded part.")));
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo($"api uuid_record {EndpointUuid} stop {start.Split(' ')[4]}"));
        await ApiReplyAsync(outbound, "+OK Success");
        Assert.That(Header(await ExecuteAsync(outbound), "execute-app-arg: "), Is.EqualTo(FileSpeech.PathOf("Not recorded.")));
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        var recording = ended.Results.Recordings.Single();
        Assert.That((recording.Status, recording.Stereo), Is.EqualTo((RecordingStatuses.Recorded, false)));
        Assert.That(recording.StoppedAt, Is.LessThan(ended.At), "stopped by the verb, before the call ended");
        await NothingLeftAsync(rig);
    }

    private const string DialledUuid = "b0b0ae87-7aae-48cf-958b-f4125c0ef96f";
    private const string DialledPhoneDialog = "087ab0b0-60c8-1240-da9f-925dacc98fbd;from-tag=FZKBj2tQKvBaD";

    /// <summary>The second leg of a dial: its endpoint, its phone and its Event Socket session, replayed from the same capture under Call-IDs and a channel UUID of their own.</summary>
    private sealed record DialledLeg(CaptureReplay Signalling, EslReplay Outbound);

    /// <summary>
    /// The call is answered and its script dials +15557654321: the caller hears ringback (a playback of the ringback tone,
    /// answered +OK), the second endpoint is made, its INVITE answered, and the endpoint pointed at the dialled phone; then
    /// the ringback is broken off and the two channels are bridged with <c>uuid_bridge</c>, answered as FreeSWITCH does.
    /// </summary>
    private async Task<(CallSnapshot Placed, EslReplay Outbound, DialledLeg Dialled)> BridgedAsync(MediaRig rig, CallManager calls, ChangeLog changes)
    {
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest
        {
            To = "+15551234567",
            Script = Script("""[{"verb":"dial","timeout":10,"target":[{"type":"phone","number":"+15557654321"}]}]"""),
        });
        var ringback = await outbound.Peer.ReceiveCommandAsync();
        Assert.That(ringback, Does.Contain("execute-app-name: playback").And.Contain("execute-app-arg: " + ScriptRunner.Ringback), "ringback while it rings");
        await outbound.Peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK\n\n");

        var signalling = new CaptureReplay(rig.Signalling.Peer, rig.Signalling.Frames);
        signalling.Map("0877a937-60c8-1240-da9f-925dacc98fbd", "0877b0b0-60c8-1240-da9f-925dacc98fbd");
        signalling.Map("087aea98-60c8-1240-da9f-925dacc98fbd", "087ab0b0-60c8-1240-da9f-925dacc98fbd");
        signalling.Skip(signalling.Frames.ToList().FindIndex(f => f.From == Side.App && f.Message.Contains("\r\nINVITE sip:drachtio@", StringComparison.Ordinal)));
        string? endpointId = null;
        await signalling.ExpectClientAsync((_, actual) =>
        {
            Assert.That(actual.Sip.ToString(), Is.EqualTo("INVITE sip:drachtio@127.0.0.1:5090"), "a second endpoint, on the call's FreeSWITCH");
            endpointId = actual.Sip.GetHeader("User-Agent")!["drachtio-fsmrf:".Length..];
        });
        await signalling.PlayAsync(2); // echo, 200 OK with FreeSWITCH's offer
        await signalling.ExpectClientAsync((_, actual) => Assert.That(actual.Sip.Method, Is.EqualTo("ACK")));
        await signalling.PlayAsync(1); // its echo
        var dialledOutbound = await rig.DialInAsync(endpointId!);
        dialledOutbound.Map(EndpointUuid, DialledUuid);
        await dialledOutbound.PlayAsync(2); // connect, channel data
        await dialledOutbound.ExpectClientAsync((_, actual) => Assert.That(actual, Does.StartWith("event json ")));
        await dialledOutbound.PlayAsync(3); // +OK, filter, +OK
        dialledOutbound.Skip(4);

        await signalling.ExpectClientAsync((_, actual) =>
        {
            Assert.That(actual.Sip.ToString(), Is.EqualTo("INVITE sip:15557654321@127.0.0.1:5085"));
            Assert.That(actual.Sip.GetHeader("Content-Type"), Is.EqualTo("application/sdp"), "the second endpoint's offer");
        });
        await signalling.PlayAsync(3); // echo, 180, 200 OK
        await signalling.ExpectClientAsync((_, actual) => Assert.That((actual.Sip.Method, actual.Fields[3]), Is.EqualTo(("ACK", DialledPhoneDialog))));
        await signalling.PlayAsync(1); // its echo
        await signalling.ExpectClientAsync((_, actual) =>
        {
            Assert.That((actual.Sip.Method, actual.Fields[3][..9]), Is.EqualTo(("INVITE", "0877b0b0-")), "the second endpoint re-INVITEd");
            Assert.That(actual.Sip.Body, Does.Contain("m=audio 6186 RTP/AVP"), "with the dialled phone's SDP");
        });
        await signalling.PlayAsync(2); // echo, FreeSWITCH's 200 OK
        await signalling.ExpectClientAsync((_, actual) => Assert.That((actual.Sip.Method, actual.Fields[3][..9]), Is.EqualTo(("ACK", "0877b0b0-"))));
        await signalling.PlayAsync(1); // its echo

        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo($"api uuid_break {EndpointUuid} all"), "the ringback stops");
        await ApiReplyAsync(outbound, "+OK");
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo($"api uuid_bridge {EndpointUuid} {DialledUuid}"));
        await ApiReplyAsync(outbound, "+OK " + DialledUuid);
        return (placed, outbound, new DialledLeg(signalling, dialledOutbound));
    }

    /// <summary>The dialled phone sends a request in its dialog (a BYE), answered by us and echoed.</summary>
    private static async Task DialledPhoneHangsUpAsync(MediaRig rig)
    {
        const string request = "BYE sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5085;branch=z9hG4bK-dialled-bye\r\n" +
                               "From: <sip:15557654321@127.0.0.1:5085>;tag=1612SIPpTag011\r\nTo: <sip:127.0.0.1:5060>;tag=FZKBj2tQKvBaD\r\n" +
                               "Call-ID: 087ab0b0-60c8-1240-da9f-925dacc98fbd\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
        await rig.Signalling.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|sip|network|{request.Length}|udp|127.0.0.1|5085|12:00:00.000000|dialled-bye|{DialledPhoneDialog}|\r\n{request}");
        Assert.That((await AnswerToPhoneAsync(rig, "dialled-bye")).Sip.StatusCode, Is.EqualTo(200));
    }

    /// <summary>The dialled leg's endpoint is released: its BYE answered, its session closed by FreeSWITCH.</summary>
    private static async Task DialledEndpointReleasedAsync(MediaRig rig, DialledLeg dialled)
    {
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((bye.Sip.Method, bye.Fields[3][..9]), Is.EqualTo(("BYE", "0877b0b0-")), "the second endpoint's dialog");
        await rig.AnswerByeAsync(bye);
        dialled.Outbound.Skip(dialled.Outbound.Messages.ToList().FindLastIndex(m => m.From == Side.App) + 2 - dialled.Outbound.Position);
        await dialled.Outbound.PlayToEndAsync();
        await dialled.Outbound.Peer.CloseAsync();
    }

    [Test]
    public async Task A_dial_bridges_a_second_leg_and_the_dialled_phone_hanging_up_ends_both_with_nothing_left()
    {
        var (rig, calls, changes, _, _) = await StartAsync();
        var (placed, outbound, dialled) = await BridgedAsync(rig, calls, changes);

        await DialledPhoneHangsUpAsync(rig);
        await DialledEndpointReleasedAsync(rig, dialled);
        await HangsUpAsync(rig, outbound); // then the caller: BYE, and the first endpoint released

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason, ended.Detail), Is.EqualTo((CallState.Completed, "remote_hangup", (string?)"the dialled party hung up")));
        var dial = ended.Results.Dials.Single();
        Assert.That((dial.Target, dial.Outcome, dial.SipStatus, dial.EndedBy), Is.EqualTo(("+15557654321", "answered", (int?)200, (string?)"callee")));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task The_caller_hanging_up_mid_bridge_hangs_up_the_dialled_phone_and_releases_both_endpoints()
    {
        var (rig, calls, changes, _, _) = await StartAsync();
        var (placed, outbound, dialled) = await BridgedAsync(rig, calls, changes);

        await PhoneSendsAsync(rig, "BYE", 2, "phone-bye");
        Assert.That((await AnswerToPhoneAsync(rig, "phone-bye")).Sip.StatusCode, Is.EqualTo(200));
        // The dialled phone gets its BYE, in its own dialog, and then the second endpoint goes.
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((bye.Sip.Method, bye.Fields[3]), Is.EqualTo(("BYE", DialledPhoneDialog)));
        await rig.AnswerByeAsync(bye, fromPort: "5085");
        await DialledEndpointReleasedAsync(rig, dialled);
        await ReleaseEndpointAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.Reason, ended.Results.Dials.Single().EndedBy), Is.EqualTo(("remote_hangup", (string?)"caller")));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task FreeSWITCH_losing_the_dialled_channel_mid_bridge_fails_the_call_and_hangs_everything_up()
    {
        var (rig, calls, changes, _, _) = await StartAsync();
        var (placed, outbound, dialled) = await BridgedAsync(rig, calls, changes);

        // The second channel's socket closes with no BYE before it: FreeSWITCH lost it.
        await dialled.Outbound.Peer.CloseAsync();
        var byes = new List<ClientFrame>();
        for (var i = 0; i < 2; i++)
        {
            var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
            Assert.That(bye.Sip.Method, Is.EqualTo("BYE"));
            byes.Add(bye);
            await rig.AnswerByeAsync(bye, fromPort: bye.Fields[3] == DialledPhoneDialog ? "5085" : "5090");
        }
        Assert.That(byes.Select(b => b.Fields[3][..9]), Is.EquivalentTo(new[] { "087ab0b0-", "0877b0b0-" }), "the dialled phone and the lost endpoint's dialog");
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, "media_error")));
        var dial = ended.Results.Dials.Single();
        Assert.That((dial.Outcome, dial.EndedBy), Is.EqualTo(("answered", (string?)"call")));
        Assert.That(dial.Detail, Does.StartWith("the media server lost the dialled leg"));
        await NothingLeftAsync(rig);
    }

    private const string PhoneDialog = "087aea98-60c8-1240-da9f-925dacc98fbd;from-tag=FZKBj2tQKvBaD";

    /// <summary>The phone sends a request in its dialog of the captured call (with SDP when given), under <paramref name="transaction"/>.</summary>
    private static Task PhoneSendsAsync(MediaRig rig, string method, int cseq, string transaction, string? sdp = null)
    {
        var body = sdp ?? string.Empty;
        var request = $"{method} sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5085;branch=z9hG4bK-phone-{transaction}\r\n" +
                      "From: <sip:15551234567@127.0.0.1:5085>;tag=1612SIPpTag011\r\nTo: <sip:127.0.0.1:5060>;tag=FZKBj2tQKvBaD\r\n" +
                      $"Call-ID: 087aea98-60c8-1240-da9f-925dacc98fbd\r\nCSeq: {cseq} {method}\r\n" +
                      (sdp is null ? string.Empty : "Content-Type: application/sdp\r\n") + $"Content-Length: {body.Length}\r\n\r\n{body}";
        return rig.Signalling.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|sip|network|{request.Length}|udp|127.0.0.1|5085|12:00:00.000000|{transaction}|{PhoneDialog}|\r\n{request}");
    }

    /// <summary>Our response to a request of the phone, echoed as drachtio-server does.</summary>
    private static async Task<ClientFrame> AnswerToPhoneAsync(MediaRig rig, string transaction)
    {
        var response = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That(response.Fields[2], Is.EqualTo(transaction));
        await rig.Signalling.Peer.AcknowledgeAsync(response, transaction, response.Text[(response.Text.IndexOf('\n') + 1)..]);
        return response;
    }

    /// <summary>The message starts playing (our playback, FreeSWITCH's +OK and CHANNEL_EXECUTE), and nothing more of it.</summary>
    private static async Task MessagePlaysAsync(EslReplay outbound)
    {
        outbound.Skip(CapturedCollect(outbound) - outbound.Position);
        await outbound.ExpectClientAsync((_, actual) => Assert.That(App(actual), Is.EqualTo("playback")));
        await outbound.PlayAsync(2);
    }

    /// <summary>The phone hangs up mid-message: 200 to its BYE, the playback broken off, the endpoint released.</summary>
    private static async Task PhoneHangsUpAsync(MediaRig rig, EslReplay outbound, int cseq)
    {
        await PhoneSendsAsync(rig, "BYE", cseq, "phone-bye");
        await AnswerToPhoneAsync(rig, "phone-bye");
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Does.StartWith("api uuid_break "));
        await outbound.Peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        await ReleaseEndpointAsync(rig, outbound);
    }

    [Test]
    public async Task The_phones_re_INVITE_goes_to_the_endpoint_and_FreeSWITCHs_answer_cut_to_its_stream_goes_back()
    {
        var (rig, calls, changes, _, _) = await StartAsync();
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest { To = "+15551234567", Message = "Disk full on db-01." });
        await MessagePlaysAsync(outbound);

        // The phone (a PBX) puts the call on hold: a re-INVITE in its dialog with a send-only offer.
        const string hold = "v=0\r\no=phone 1 2 IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6186 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n";
        await PhoneSendsAsync(rig, "INVITE", 2, "phone-hold", hold);

        // It reaches FreeSWITCH: a re-INVITE in the endpoint's dialog, which FreeSWITCH answers with its stream and the refused SAVP one.
        var toEndpoint = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((toEndpoint.Sip.Method, toEndpoint.Fields[3][..9], toEndpoint.Sip.Body), Is.EqualTo(("INVITE", "0877a937-", hold)));
        var endpointDialog = toEndpoint.Fields[3];
        var callId = endpointDialog[..endpointDialog.IndexOf(';')];
        await rig.Signalling.Peer.AcknowledgeAsync(toEndpoint, "hold-txn", $"INVITE sip:drachtio@127.0.0.1:5090 SIP/2.0\r\nCall-ID: {callId}\r\nCSeq: 9 INVITE\r\nContent-Length: 0\r\n\r\n");
        const string answer = "v=0\r\no=FS 1 3 IN IP4 127.0.0.1\r\ns=FS\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40416 RTP/AVP 0 101\r\na=recvonly\r\nm=audio 0 RTP/AVP 19\r\n";
        var ok = $"SIP/2.0 200 OK\r\nCall-ID: {callId}\r\nCSeq: 9 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {answer.Length}\r\n\r\n{answer}";
        await rig.Signalling.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|sip|network|{ok.Length}|udp|127.0.0.1|5090|12:00:00.000000|hold-txn|{endpointDialog}|\r\n{ok}");
        var ack = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That((ack.Sip.Method, ack.Fields[3]), Is.EqualTo(("ACK", endpointDialog)));

        var toPhone = await AnswerToPhoneAsync(rig, "phone-hold");
        Assert.That(toPhone.Sip.StatusCode, Is.EqualTo(200));
        Assert.That(toPhone.Sip.Body, Is.EqualTo(answer[..answer.IndexOf("m=audio 0", StringComparison.Ordinal)]), "FreeSWITCH's answer, one stream for the one offered");
        Assert.That(calls.Get(placed.CallId)!.State, Is.EqualTo(CallState.Playing), "the call goes on");

        await PhoneHangsUpAsync(rig, outbound, cseq: 3);
        Assert.That((await changes.FinalAsync(placed.CallId)).Reason, Is.EqualTo("remote_hangup"));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_re_INVITE_with_an_SRTP_offer_is_answered_with_the_SDP_negotiated_and_FreeSWITCH_is_left_alone()
    {
        var (rig, calls, changes, _, _) = await StartAsync();
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest { To = "+15551234567", Message = "Disk full on db-01." });
        await MessagePlaysAsync(outbound);

        const string rekey = "v=0\r\no=phone 1 2 IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6186 RTP/SAVP 0\r\n" +
                             "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
        await PhoneSendsAsync(rig, "INVITE", 2, "phone-rekey", rekey);
        var toPhone = await AnswerToPhoneAsync(rig, "phone-rekey");
        Assert.That(toPhone.Sip.StatusCode, Is.EqualTo(200), "no re-INVITE of the endpoint came first");
        Assert.That(toPhone.Sip.Body, Does.Contain("RTP/AVP").And.Not.Contain("a=crypto"), "the SDP negotiated at the start");

        await PhoneHangsUpAsync(rig, outbound, cseq: 3);
        Assert.That((await changes.FinalAsync(placed.CallId)).Reason, Is.EqualTo("remote_hangup"));
        await NothingLeftAsync(rig);
    }

    [Test]
    public async Task A_wrong_key_replays_the_message_and_the_right_one_acknowledges_the_alert()
    {
        var (rig, calls, changes, _, speech) = await StartAsync();
        var (placed, outbound) = await AnsweredAsync(rig, calls, changes, new CallRequest
        {
            To = "+15551234567",
            Message = "Disk full on db-01.",
            Acknowledge = new Acknowledgement { Digit = '2', RepeatDigit = '3', Tries = 3 },
        });

        var sources = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            // The callee presses 1 (as captured) at the first question, then 2.
            var command = await ExecuteAsync(outbound, key: sources.Count(s => s.StartsWith("collect", StringComparison.Ordinal)) == 0 ? '1' : '2');
            sources.Add(App(command) == "play_and_get_digits" ? "collect " + Arguments(command)[5] : Header(command, "execute-app-arg: "));
        }
        Assert.That(sources, Is.EqualTo(new[]
        {
            FileSpeech.PathOf("Disk full on db-01."), "collect " + FileSpeech.PathOf("Press 2 to acknowledge, 3 to hear it again."),
            FileSpeech.PathOf("Disk full on db-01."), "collect " + FileSpeech.PathOf("Press 2 to acknowledge, 3 to hear it again."),
            FileSpeech.PathOf("Acknowledged. Goodbye."),
        }));
        await HangsUpAsync(rig, outbound);

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That(ended.Results.Acknowledged, Is.True);
        Assert.That(ended.Results.Digits, Is.EqualTo("12"));
        Assert.That(ended.Results.Gathers.Select(g => (g.Try, g.Digits)), Is.EqualTo(new[] { (1, "1"), (2, "2") }));
        Assert.That(speech.Rendered.Take(3), Is.EquivalentTo(new[] { "Disk full on db-01.", "Press 2 to acknowledge, 3 to hear it again.", "Acknowledged. Goodbye." }),
            "everything rendered when dialling started");
        await NothingLeftAsync(rig);
    }
}
