using Voice.Control.Media;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Media;

/// <summary>Endpoints on a media server, with fake drachtio-server and fake FreeSWITCH replaying the captured MRF flows.</summary>
public class EndpointTests
{
    private readonly List<MediaRig> _rigs = [];

    [TearDown]
    public async Task Dispose()
    {
        foreach (var rig in _rigs)
        {
            await rig.DisposeAsync();
        }
        _rigs.Clear();
    }

    private async Task<MediaRig> RigAsync(string scenario, MediaServerOptions? options = null)
    {
        var rig = await MediaRig.ConnectAsync(scenario, options);
        _rigs.Add(rig);
        return rig;
    }

    [Test]
    public async Task An_endpoint_is_created_modified_played_spoken_and_destroyed_as_captured()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        Assert.That(rig.Server.IsConnected, Is.True, "sofia status showed the mrf profile RUNNING");

        var (endpoint, outbound) = await rig.CreateEndpointAsync();
        Assert.That(endpoint.Uuid, Is.EqualTo("19536a5e-32e6-4c0d-8b3f-af4ca170f0fb"));
        Assert.That(rig.Server.Endpoints, Is.EquivalentTo(new[] { endpoint }));

        // FreeSWITCH offered RTP/SAVP (with crypto) and RTP/AVP; the phone is offered plain RTP/AVP only.
        Assert.That(Sdp.MediaProfiles(endpoint.Dialog.RemoteSdp!), Is.EqualTo(new[] { "RTP/SAVP", "RTP/AVP" }));
        Assert.That(MediaRig.Lines(endpoint.LocalSdp, "m="), Is.EqualTo(new[] { "m=audio 40966 RTP/AVP 0 8 101" }));
        Assert.That(endpoint.LocalSdp, Does.Not.Contain("a=crypto"));
        Assert.That(MediaRig.Lines(endpoint.LocalSdp, "c="), Is.EqualTo(new[] { "c=IN IP4 127.0.0.1" }));

        var modify = endpoint.ModifyAsync(rig.PhoneAnswer());
        rig.SkipToEndpointReinvite();
        await rig.Signalling.PlayAsync(5); // re-INVITE with the phone's SDP, echo, FreeSWITCH's 200, ACK, echo
        await modify.Within();
        Assert.That(endpoint.RemoteSdp, Is.EqualTo(rig.PhoneAnswer()));

        var play = endpoint.PlayAsync("tone_stream://%(2000,0,440)");
        await outbound.ExpectClientAsync();
        await outbound.PlayAsync(4); // +OK, EXECUTE, PLAYBACK_START, PLAYBACK_STOP
        Assert.That(play.IsCompleted, Is.False, "playback is not over before its CHANNEL_EXECUTE_COMPLETE");
        await outbound.PlayServerAsync();
        await play.Within();

        var speak = endpoint.SpeakAsync("Hello from the lab");
        await outbound.ExpectClientAsync(); // execute-app-arg: flite|kal|Hello from the lab
        await outbound.PlayServerAsync();
        await speak.Within();

        // We hang up with BYE over drachtio where drachtio-fsmrf ran the hangup app; FreeSWITCH's events are the same.
        var destroy = endpoint.DestroyAsync();
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That(bye.Fields[3], Is.EqualTo(endpoint.Dialog.Id));
        await rig.AnswerByeAsync(bye);
        outbound.Skip(2); // the captured sendmsg hangup and its +OK
        await outbound.PlayToEndAsync(); // hangup events, the socket app's stale completion, CALLSTATE, disconnect notice
        await outbound.Peer.CloseAsync();
        await destroy.Within();

        var ended = await endpoint.Terminated.Within();
        Assert.That(ended.Cause, Is.EqualTo("NORMAL_CLEARING"));
        Assert.That(ended.By, Is.EqualTo(EndpointTerminatedBy.Local));
        Assert.That(rig.Server.Endpoints, Is.Empty);
        Assert.That(rig.Client.Dialogs, Is.Empty, "no dialog left at drachtio-server");
        await endpoint.DestroyAsync().Within(); // idempotent
        await rig.Signalling.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
        var late = await Assert.ThrowsAsync<EndpointDestroyedException>(() => endpoint.PlayAsync("tone_stream://%(100,0,440)"));
        Assert.That(late!.Cause, Is.EqualTo("NORMAL_CLEARING"));
    }

    [Test]
    public async Task An_endpoint_made_for_a_phones_offer_answers_it_in_its_INVITE_and_is_connected_from_the_start()
    {
        await using var rig = await MediaRig.ConnectAsync("mrf-endpoint-play");
        const string PhoneOffer = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
            "m=audio 14000 RTP/SAVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:oCzbYENdXTCHhfuLPV6FGdwlhgpk0IE/mudDbwva\r\n";

        var create = rig.Server.CreateEndpointAsync(PhoneOffer);
        var (_, answer) = await rig.PlayEndpointAnsweringAsync(PhoneOffer);
        var endpoint = await create.Within();

        Assert.That(endpoint.LocalSdp, Is.EqualTo(answer), "FreeSWITCH's answer goes to the phone as it is, in the phone's ACK");
        Assert.That(endpoint.RemoteSdp, Is.EqualTo(PhoneOffer));
        Assert.That(rig.Server.Endpoints, Does.Contain(endpoint));
    }

    /// <summary>An endpoint of the captured play-and-collect flow, connected to the phone, before its prompt.</summary>
    private async Task<(Endpoint Endpoint, EslReplay Outbound)> ConnectedToThePhoneAsync()
    {
        var rig = await RigAsync("mrf-play-collect");
        var (endpoint, outbound) = await rig.CreateEndpointAsync();
        var modify = endpoint.ModifyAsync(rig.PhoneAnswer());
        rig.SkipToEndpointReinvite();
        await rig.Signalling.PlayAsync(5);
        await modify.Within();
        return (endpoint, outbound);
    }

    [Test]
    public async Task Digits_are_collected_with_their_prompt_and_reported_with_the_DTMF_event()
    {
        var (endpoint, outbound) = await ConnectedToThePhoneAsync();
        var keys = new List<DtmfEventArgs>();
        endpoint.Dtmf += (_, e) => { lock (keys) { keys.Add(e); } };

        var collect = endpoint.PlayAndCollectDigitsAsync(new CollectDigitsOptions
        {
            Prompt = "tone_stream://%(500,0,440)",
            InvalidPrompt = "silence_stream://250",
            Timeout = TimeSpan.FromSeconds(5),
            DigitTimeout = TimeSpan.FromSeconds(8),
        });
        await outbound.ExpectClientAsync((captured, actual) =>
        {
            // Our result variable has our own name; the rest of the argument is the capture's.
            var ours = Arguments(actual);
            Assert.That(ours[7], Does.StartWith("vb_digits_"));
            Assert.That(ours.Select((a, i) => i == 7 ? "myDigitBuffer" : a), Is.EqualTo(Arguments(captured)));
            outbound.Map("myDigitBuffer", ours[7]);
        });
        await outbound.PlayServerAsync(); // +OK, EXECUTE, PLAYBACK_START/STOP, DTMF 1, EXECUTE_COMPLETE with the variable
        var digits = await collect.Within();

        Assert.That(digits, Is.EqualTo(new CollectedDigits("1", null, "success")));
        await Poll.UntilAsync(() => { lock (keys) { return keys.Count == 1; } });
        Assert.That(keys[0].Digit, Is.EqualTo('1'));
        Assert.That(keys[0].Duration, Is.EqualTo(TimeSpan.FromMilliseconds(280)));
        Assert.That(keys[0].Source, Is.EqualTo("RTP"));
    }

    [Test]
    public async Task Digits_without_a_finishing_key_ask_FreeSWITCH_for_none_and_come_back_the_same()
    {
        var (endpoint, outbound) = await ConnectedToThePhoneAsync();

        var collect = endpoint.PlayAndCollectDigitsAsync(new CollectDigitsOptions
        {
            Prompt = "tone_stream://%(500,0,440)",
            InvalidPrompt = "silence_stream://250",
            Terminators = CollectDigitsOptions.NoTerminator,
            Timeout = TimeSpan.FromSeconds(5),
            DigitTimeout = TimeSpan.FromSeconds(8),
        });
        await outbound.ExpectClientAsync((captured, actual) =>
        {
            var ours = Arguments(actual);
            Assert.That(ours[4], Is.EqualTo("none"), "no key ends input early");
            Assert.That(ours.Select((a, i) => i switch { 4 => "#", 7 => "myDigitBuffer", _ => a }), Is.EqualTo(Arguments(captured)));
            outbound.Map("myDigitBuffer", ours[7]);
        });
        await outbound.PlayServerAsync();
        Assert.That(await collect.Within(), Is.EqualTo(new CollectedDigits("1", null, "success")));
    }

    [Test]
    public async Task A_calls_gather_runs_as_play_and_get_digits_and_reports_the_key_as_detected()
    {
        var rig = await RigAsync("mrf-play-collect");
        var backend = new Voice.Control.Backends.SipCallBackend(rig.Client, new MediaServerPool([rig.Server]), new Voice.Control.Calls.CallOptions());
        var creating = backend.CreateMediaAsync(CancellationToken.None);
        var outbound = await rig.PlayEndpointCreationAsync();
        var media = await creating.Within();
        var connect = media.ConnectAsync(rig.PhoneAnswer(), CancellationToken.None);
        rig.SkipToEndpointReinvite();
        await rig.Signalling.PlayAsync(5);
        await connect.Within();

        var prompt = new Voice.Control.Tts.SpeechAudio { Provider = "test", Source = "tone_stream://%(500,0,440)", Duration = TimeSpan.FromSeconds(0.5) };
        var gather = media.GatherAsync(prompt, new Voice.Control.Calls.DigitRules(1, 1, '#', TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(8)), CancellationToken.None);
        await outbound.ExpectClientAsync((captured, actual) =>
        {
            // The call's own variable, and any key as a digit; the rest is the capture's.
            var ours = Arguments(actual);
            Assert.That((ours[7][..10], ours[8]), Is.EqualTo(("vb_digits_", "[0-9*#]+")));
            Assert.That(ours.Select((a, i) => i switch { 7 => "myDigitBuffer", 8 => @"\d+", _ => a }), Is.EqualTo(Arguments(captured)));
            outbound.Map("myDigitBuffer", ours[7]);
        });
        await outbound.PlayServerAsync();
        Assert.That(await gather.Within(), Is.EqualTo(new Voice.Control.Calls.GatheredDigits("1", Voice.Control.Calls.GatherReasons.DtmfDetected)));
    }

    [TestCase("")]
    [TestCase("12x")]
    [TestCase("1 2")]
    public async Task Digits_to_send_outside_the_keys_and_pauses_are_refused_before_anything_is_sent(string digits)
    {
        var rig = await RigAsync("mrf-play-collect");
        var (endpoint, _) = await rig.CreateEndpointAsync();
        Assert.That(() => endpoint.SendDigitsAsync(digits, TimeSpan.FromMilliseconds(250)), Throws.ArgumentException);
    }

    [Test]
    public async Task FreeSWITCH_never_connecting_back_fails_the_endpoint_and_hangs_the_dialog_up()
    {
        var rig = await RigAsync("mrf-endpoint-play", MediaRig.DefaultOptions with { EndpointTimeout = TimeSpan.FromMilliseconds(300) });
        var create = rig.Server.CreateEndpointAsync();
        var id = await rig.ExpectEndpointInviteAsync();
        await rig.Signalling.PlayAsync(2);
        await rig.ExpectRecvOnlyAckAsync();
        await rig.Signalling.PlayAsync(1);

        // No outbound connection comes: the BYE goes out for the answered dialog before the error is reported.
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"));
        Assert.That(bye.Fields[3], Is.EqualTo("f33127b5-60c7-1240-da9f-925dacc98fbd;from-tag=ajNF9t651FvcK"));
        await rig.AnswerByeAsync(bye);
        var ex = await Assert.ThrowsAsync<MediaException>(() => create.Within());
        Assert.That(ex!.Message, Does.Contain("did not connect back to " + rig.Broker.AdvertisedAddress));
        Assert.That(rig.Client.Dialogs, Is.Empty);
        Assert.That(rig.Server.Endpoints, Is.Empty);

        // When FreeSWITCH connects after all, nobody owns the channel any more: it is hung up, not left running.
        var late = await rig.DialInAsync(id);
        await late.PlayAsync(2); // connect, channel data
        var hangup = await late.Peer.ReceiveCommandAsync();
        Assert.That(hangup, Is.EqualTo("sendmsg 19536a5e-32e6-4c0d-8b3f-af4ca170f0fb\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING"));
    }

    [Test]
    public async Task FreeSWITCH_restarting_mid_call_destroys_the_endpoint_and_the_client_reconnects()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        var (endpoint, outbound) = await rig.CreateEndpointAsync();
        var destroyed = new TaskCompletionSource<EndpointDestroyedEventArgs>();
        endpoint.Destroyed += (_, e) => destroyed.TrySetResult(e);

        // FreeSWITCH stops: both its sockets close with no hangup event and no BYE.
        await outbound.Peer.CloseAsync();
        await rig.Inbound.Peer.CloseAsync();

        var ended = await destroyed.Task.Within();
        Assert.That(ended.Cause, Is.EqualTo(EndpointDestroyedEventArgs.MediaServerLost));
        Assert.That(ended.By, Is.EqualTo(EndpointTerminatedBy.ConnectionLost));
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"), "drachtio-server forgets the dialog with FreeSWITCH");
        Assert.That(bye.Fields[3], Is.EqualTo(endpoint.Dialog.Id));
        await rig.AnswerByeAsync(bye);
        await Poll.UntilAsync(() => rig.Client.Dialogs.Count == 0 && rig.Server.Endpoints.Count == 0);
        Assert.That(rig.Server.IsConnected, Is.False);
        var refused = await Assert.ThrowsAsync<MediaServerUnavailableException>(() => rig.Server.CreateEndpointAsync());
        Assert.That(refused!.Message, Does.Contain("not ready"));

        // FreeSWITCH is back: the client logs in again, subscribes, and checks the profile before taking endpoints.
        var back = new EslReplay(await rig.FreeSwitch.AcceptAsync(), MediaRig.OneAtATime(Captures.EslFlow("mrf-endpoint-play", "esl-in")));
        await back.PlayAsync(3);
        await back.ExpectClientAsync((_, actual) => Assert.That(actual, Does.StartWith("event plain ")));
        await back.PlayAsync(3);
        await Poll.UntilAsync(() => rig.Server.IsConnected);
    }

    [Test]
    public async Task Message_text_cannot_break_out_of_the_speak_command()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        var (endpoint, outbound) = await rig.CreateEndpointAsync();
        var peer = outbound.Peer;

        var attack = "Disk full\n\nsendmsg " + endpoint.Uuid + "\ncall-command: hangup\r\n\napi system rm -rf / ${system(reboot)} $${hostname} \\ | slt";
        var speak = endpoint.SpeakAsync(attack);
        var command = await peer.ReceiveCommandAsync();
        Assert.That(command.Split('\n'), Is.EqualTo(new[]
        {
            "sendmsg " + endpoint.Uuid,
            "call-command: execute",
            "execute-app-name: speak",
            "execute-app-arg: flite|kal|Disk full sendmsg " + endpoint.Uuid + " call-command: hangup api system rm -rf / $system(reboot) $$hostname , slt",
            "event-lock: true",
            command.Split('\n')[5],
        }));
        Assert.That(command.Split('\n')[5], Does.Match("^Event-UUID: [0-9a-f-]{36}$"));
        await peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(100));
        Assert.That(speak.IsCompleted, Is.False);

        // A long message travels as a counted body, never as a header line an old FreeSWITCH would cut in two.
        var longText = string.Concat(Enumerable.Repeat("The backup on nas-01 failed again. ", 60));
        _ = endpoint.SpeakAsync(longText);
        var bodyCommand = await peer.ReceiveCommandAsync();
        var (head, body) = (bodyCommand[..bodyCommand.IndexOf("\n\n", StringComparison.Ordinal)], bodyCommand[(bodyCommand.IndexOf("\n\n", StringComparison.Ordinal) + 2)..]);
        Assert.That(head, Does.Not.Contain("execute-app-arg"));
        Assert.That(head, Does.Contain("\ncontent-type: text/plain\ncontent-length: " + System.Text.Encoding.UTF8.GetByteCount(body)));
        Assert.That(body, Is.EqualTo("flite|kal|" + longText.Trim()));

        await Assert.ThrowsAsync<ArgumentException>(() => endpoint.SpeakAsync(" \r\n\t "));
        await Assert.ThrowsAsync<ArgumentException>(() => endpoint.SpeakAsync("hi", new SpeakOptions { Voice = "kal|evil" }));
    }

    [Test]
    public async Task Cancelling_a_playback_stops_it_on_the_wire()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        var (endpoint, outbound) = await rig.CreateEndpointAsync();
        using var cts = new CancellationTokenSource();
        var play = endpoint.PlayAsync(["/sounds/alert.wav", "tone_stream://%(500,0,440)"], loops: 2, cts.Token);
        var command = await outbound.Peer.ReceiveCommandAsync();
        Assert.That(command, Does.Contain("\nexecute-app-arg: file_string:///sounds/alert.wav!tone_stream://%(500,0,440)!/sounds/alert.wav!tone_stream://%(500,0,440)\n"));
        await outbound.Peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK\n\n");

        await cts.CancelAsync();
        var breakCommand = await outbound.Peer.ReceiveCommandAsync();
        Assert.That(breakCommand, Is.EqualTo("api uuid_break " + endpoint.Uuid + " all"));
        await outbound.Peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        Assert.That(async () => await play.Within(), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task FreeSWITCH_hanging_up_destroys_the_endpoint_with_its_cause()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        var (endpoint, outbound) = await rig.CreateEndpointAsync();
        var destroyed = new TaskCompletionSource<EndpointDestroyedEventArgs>();
        endpoint.Destroyed += (_, e) => destroyed.TrySetResult(e);

        // FreeSWITCH's BYE (Reason: Q.850;cause=16;text="NORMAL_CLEARING"), our 200 OK as captured, its echo.
        rig.Signalling.Skip(rig.Signalling.Frames.ToList().FindIndex(f => f.From == Side.Server && f.Message.Contains("\r\nBYE sip:127.0.0.1:5060", StringComparison.Ordinal)) - rig.Signalling.Position);
        await rig.Signalling.PlayToEndAsync();
        var ended = await destroyed.Task.Within();
        Assert.That(ended.Cause, Is.EqualTo("NORMAL_CLEARING"));
        Assert.That(ended.By, Is.EqualTo(EndpointTerminatedBy.MediaServer));

        // The channel's last events and FreeSWITCH's FIN close the session; nothing more goes to drachtio-server.
        var lastCommand = outbound.Messages.ToList().FindLastIndex(m => m.From == Side.App);
        outbound.Skip(lastCommand + 2 - outbound.Position); // the captured sendmsg hangup and its +OK
        await outbound.PlayToEndAsync();
        await outbound.Peer.CloseAsync();
        await outbound.Peer.Closed.Within();
        Assert.That(rig.Client.Dialogs, Is.Empty);
        Assert.That(rig.Server.Endpoints, Is.Empty);
        await rig.Signalling.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
        await endpoint.DestroyAsync().Within(); // nothing left to do
    }

    [Test]
    public async Task Losing_drachtio_server_hangs_the_channel_up_over_the_Event_Socket()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        var (endpoint, outbound) = await rig.CreateEndpointAsync();

        await rig.Signalling.Peer.CloseAsync();

        var ended = await endpoint.Terminated.Within();
        Assert.That(ended.By, Is.EqualTo(EndpointTerminatedBy.ConnectionLost));
        Assert.That(await outbound.Peer.ReceiveCommandAsync(), Is.EqualTo($"sendmsg {endpoint.Uuid}\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING"),
            "FreeSWITCH must not keep a channel nobody controls");
    }

    [Test]
    public async Task Cancelling_endpoint_creation_hangs_up_what_was_already_answered()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        using var cts = new CancellationTokenSource();
        var create = rig.Server.CreateEndpointAsync(cts.Token);
        await rig.ExpectEndpointInviteAsync();
        await rig.Signalling.PlayAsync(2);
        await rig.ExpectRecvOnlyAckAsync();
        await rig.Signalling.PlayAsync(1);

        await cts.CancelAsync(); // while waiting for FreeSWITCH to connect back
        var bye = await rig.Signalling.Peer.ReceiveAsync("sip");
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"));
        await rig.AnswerByeAsync(bye);
        Assert.That(async () => await create.Within(), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(rig.Client.Dialogs, Is.Empty);
    }

    [Test]
    public async Task A_recording_reports_where_it_went_and_how_long_it_is()
    {
        var rig = await RigAsync("mrf-endpoint-play");
        var (endpoint, outbound) = await rig.CreateEndpointAsync();
        var record = endpoint.RecordAsync("/tmp/reply.wav", new RecordOptions { TimeLimit = TimeSpan.FromSeconds(30), SilenceTimeout = TimeSpan.FromSeconds(2) });
        var command = await outbound.Peer.ReceiveCommandAsync();
        Assert.That(command, Does.Contain("\nexecute-app-name: record\nexecute-app-arg: /tmp/reply.wav 30 200 2\n"));
        var eventUuid = command[(command.IndexOf("Event-UUID: ", StringComparison.Ordinal) + 12)..];
        var body = $"Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: {endpoint.Uuid}\nApplication: record\nApplication-UUID: {eventUuid}\nvariable_record_ms: 4180\n\n";
        await outbound.Peer.SendAsync($"Content-Type: command/reply\nReply-Text: +OK\n\nContent-Length: {body.Length}\nContent-Type: text/event-plain\n\n{body}");

        Assert.That(await record.Within(), Is.EqualTo(new Recording("/tmp/reply.wav", TimeSpan.FromMilliseconds(4180))));
        await Assert.ThrowsAsync<ArgumentException>(() => endpoint.RecordAsync("/tmp/my reply.wav"));
    }

    private static string[] Arguments(string sendmsg) =>
        sendmsg.Split('\n').Single(l => l.StartsWith("execute-app-arg: ", StringComparison.Ordinal))["execute-app-arg: ".Length..].Split(' ');
}
