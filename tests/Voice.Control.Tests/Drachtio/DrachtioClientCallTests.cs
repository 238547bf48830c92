using Voice.Control.Drachtio;
using Voice.Control.Sip;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Drachtio;

/// <summary>Outgoing calls through the client, against the fake server replaying the captured flows.</summary>
public class DrachtioClientCallTests
{
    private const string Phone = "sip:15551234567@127.0.0.1:5085";
    private FakeDrachtioServer _server = null!;
    private readonly List<DrachtioClient> _clients = [];

    [SetUp]
    public void StartServer() => _server = FakeDrachtioServer.Start();

    [TearDown]
    public async Task StopServer()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
        _clients.Clear();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task An_answered_call_returns_the_confirmed_dialog_and_BYE_from_us_ends_it()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-answer-bye");
        var provisional = new List<int>();

        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay), OnProvisional = r => provisional.Add(r.StatusCode) });
        await replay.PlayAsync(6); // INVITE, echo, 180, 200, ACK (checked against the capture), ACK echo
        var dialog = await call.Within();

        Assert.That(dialog.State, Is.EqualTo(DialogState.Confirmed));
        Assert.That(provisional, Is.EqualTo(new[] { 180 }));
        Assert.That(dialog.RemoteSdp, Does.Contain("m=audio 6186 RTP/AVP 0 101"));
        Assert.That(dialog.Id, Does.EndWith(";from-tag=" + dialog.LocalTag));
        Assert.That(client.Dialogs, Does.Contain(dialog));

        var hangup = dialog.DestroyAsync();
        await replay.PlayToEndAsync(); // BYE, echo, 200
        await hangup.Within();

        Assert.That(dialog.State, Is.EqualTo(DialogState.Terminated));
        Assert.That((await dialog.Terminated.Within()).By, Is.EqualTo(DialogTerminatedBy.Local));
        Assert.That(client.Dialogs, Is.Empty);
        await dialog.DestroyAsync().Within(); // idempotent: nothing more goes out
    }

    [Test]
    public async Task The_call_is_handed_over_once_the_ACK_is_written_without_waiting_for_its_echo()
    {
        // ACK has no response; waiting for drachtio-server's echo of it would only delay the caller by a round trip.
        var (client, replay) = await ConnectToFlowAsync("uac-answer-bye");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) });
        await replay.PlayAsync(5); // INVITE, echo, 180, 200, ACK — the ACK echo is held back

        var dialog = await call.Within();
        Assert.That(dialog.State, Is.EqualTo(DialogState.Confirmed));

        var hangup = dialog.DestroyAsync();
        await replay.PlayToEndAsync(); // the late ACK echo, then BYE, echo, 200
        await hangup.Within();
        Assert.That(dialog.State, Is.EqualTo(DialogState.Terminated));
    }

    [Test]
    public async Task A_BYE_from_the_far_end_is_answered_200_and_raises_Destroyed_as_remote()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-remote-bye");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) });
        await replay.PlayAsync(6);
        var dialog = await call.Within();
        var destroyed = new TaskCompletionSource<DialogDestroyedEventArgs>();
        dialog.Destroyed += (_, e) => destroyed.TrySetResult(e);

        await replay.PlayToEndAsync(); // the far end's BYE, our 200 (checked: Call-ID, CSeq, From, To), its echo

        var args = await destroyed.Task.Within();
        Assert.That(args.By, Is.EqualTo(DialogTerminatedBy.Remote));
        Assert.That(args.Request!.Method, Is.EqualTo("BYE"));
        Assert.That(dialog.State, Is.EqualTo(DialogState.Terminated));
    }

    [Test]
    public async Task Busy_fails_with_486_and_the_client_does_not_ACK_the_failure()
    {
        var client = NewClient();
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAsync();
        var replay = new CaptureReplay(peer, Captures.Trace("call-busy"));
        await replay.PlayAsync(2);
        await connect.Within();

        var call = client.CreateUacAsync("sip:15551234567@127.0.0.1:5080", new UacOptions { LocalSdp = OfferOf(replay) });
        await replay.PlayAsync(3); // INVITE, echo, 486

        var error = (await Assert.ThrowsAsync<SipFailureException>(() => call.Within()))!;
        Assert.That(error.StatusCode, Is.EqualTo(486));
        Assert.That(error.ReasonPhrase, Is.EqualTo("Busy Here"));
        // drachtio-srf sent an ACK here and drachtio-server refused it: the server ACKs failures itself.
        Assert.That(replay.Next.Message, Does.Contain("\r\nACK "));
        await peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(300));
        Assert.That(client.Dialogs, Is.Empty);
    }

    [Test]
    public async Task An_unreachable_destination_fails_with_the_locally_generated_503()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-503-unreachable");
        var call = client.CreateUacAsync("sip:15551234567@127.0.0.1:5088", new UacOptions { LocalSdp = OfferOf(replay) });
        await replay.PlayAsync(3);

        var error = (await Assert.ThrowsAsync<SipFailureException>(() => call.Within()))!;
        Assert.That(error.StatusCode, Is.EqualTo(503));
        await replay.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(300));
    }

    [Test]
    public async Task A_183_with_sdp_reaches_the_caller_as_early_media_before_the_answer()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-183-early-media");
        var provisional = new List<SipMessage>();
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay), OnProvisional = provisional.Add });
        await replay.PlayAsync(6);
        var dialog = await call.Within();

        Assert.That(provisional.Select(p => p.StatusCode), Is.EqualTo(new[] { 183 }));
        Assert.That(provisional[0].Sdp, Does.Contain("m=audio"));
        Assert.That(dialog.RemoteSdp, Is.EqualTo(dialog.FinalResponse!.Sdp));

        var hangup = dialog.DestroyAsync();
        await replay.PlayToEndAsync();
        await hangup.Within();
    }

    [Test]
    public async Task The_ring_timeout_sends_CANCEL_for_the_INVITE_and_the_call_ends_as_487()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-cancel");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay), RingTimeout = TimeSpan.FromMilliseconds(200) });
        await replay.PlayAsync(3); // INVITE, echo, 180

        var cancel = await replay.ExpectClientAsync(); // CANCEL with the INVITE's transaction id and Request-URI
        Assert.That(cancel.Fields[2], Is.EqualTo("f7c59b41-e626-4922-91ff-3a25fb4d6092"));
        await replay.PlayAsync(2); // CANCEL echo, 487

        var error = (await Assert.ThrowsAsync<SipFailureException>(() => call.Within()))!;
        Assert.That(error.StatusCode, Is.EqualTo(487));
        Assert.That(error.IsRingTimeout, Is.True);
        await replay.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(300)); // no ACK for the 487
        Assert.That(client.Dialogs, Is.Empty);
    }

    [Test]
    public async Task Cancelling_the_token_sends_CANCEL_and_reports_the_487()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-cancel");
        using var cts = new CancellationTokenSource();
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) }, cts.Token);
        await replay.PlayAsync(3);

        await cts.CancelAsync();
        await replay.PlayAsync(3); // CANCEL, echo, 487

        var error = (await Assert.ThrowsAsync<UacCanceledException>(() => call.Within()))!;
        Assert.That(error.StatusCode, Is.EqualTo(487));
        Assert.That(error.CancellationToken, Is.EqualTo(cts.Token));
    }

    [Test]
    public async Task A_CANCEL_drachtio_server_never_acknowledges_still_ends_the_call_within_the_transaction_timeout()
    {
        // A server that takes the CANCEL and says nothing more: the caller must not wait for ever.
        var (client, replay) = await ConnectToFlowAsync("uac-cancel");
        using var cts = new CancellationTokenSource();
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) }, cts.Token);
        await replay.PlayAsync(3); // INVITE, echo, 180

        await cts.CancelAsync();
        var cancel = await replay.Peer.ReceiveAsync("sip");
        Assert.That(cancel.Sip.Method, Is.EqualTo("CANCEL"));

        var error = (await Assert.ThrowsAsync<UacCanceledException>(() => call.Within()))!; // after the transaction timeout (2 s here), twice at most
        Assert.That((error.StatusCode, error.CancellationToken), Is.EqualTo(((int?)408, cts.Token)));
        Assert.That(client.Dialogs, Is.Empty);
    }

    [Test]
    public async Task An_INVITE_drachtio_server_never_takes_fails_within_the_transaction_timeout_and_leaves_nothing()
    {
        // A server that reads the INVITE and never echoes it: the caller, and a shutdown behind it, must not wait for ever.
        var (client, replay) = await ConnectToFlowAsync("uac-cancel");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) });
        Assert.That((await replay.Peer.ReceiveAsync("sip")).Sip.Method, Is.EqualTo("INVITE"));

        var error = (await Assert.ThrowsAsync<DrachtioException>(() => call.Within()))!; // after the transaction timeout (2 s here)
        Assert.That(error.Message, Does.Contain("did not take the INVITE"));
        Assert.That(client.Dialogs, Is.Empty);
    }

    [Test]
    public async Task An_answer_that_crosses_our_CANCEL_is_acknowledged_and_hung_up()
    {
        // The race of RFC 3261 §9.1: the 200 arrives instead of the 487. Nothing may stay half open.
        var (client, replay) = await ConnectToFlowAsync("uac-answer-bye");
        using var cts = new CancellationTokenSource();
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) }, cts.Token);
        await replay.PlayAsync(3); // INVITE, echo, 180
        await cts.CancelAsync();
        var peer = replay.Peer;
        var cancel = await peer.ReceiveAsync("sip");
        Assert.That(cancel.Sip.Method, Is.EqualTo("CANCEL"));
        await peer.AcknowledgeAsync(cancel, "cancel-txn", cancel.Sip.ToString());

        await replay.PlayToEndAsync(); // 200, our ACK, echo, our BYE, echo, 200

        await Assert.ThrowsAsync<UacCanceledException>(() => call.Within());
        Assert.That(client.Dialogs, Is.Empty);
    }

    [TestCase("uac-401-auth", "0fb38b3f")]
    [TestCase("uac-407-auth", "cc0c01a2")]
    public async Task A_digest_challenge_is_answered_once_with_the_captured_credentials(string scenario, string cnonce)
    {
        var (client, replay) = await ConnectToFlowAsync(scenario);
        client.CnonceFactory = () => cnonce;
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay), Credentials = new SipCredentials("1001", "secret") });

        // The retry must match drachtio-srf's byte for byte in every captured header: same Call-ID and From tag,
        // CSeq + 1, Authorization or Proxy-Authorization with this cnonce, and sent to the challenger.
        await replay.PlayAsync(8);
        var dialog = await call.Within();
        Assert.That(dialog.State, Is.EqualTo(DialogState.Confirmed));

        var hangup = dialog.DestroyAsync();
        await replay.PlayToEndAsync();
        await hangup.Within();
    }

    [Test]
    public async Task A_second_challenge_after_the_retry_fails_the_call_as_refused_credentials()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-401-auth");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay), Credentials = new SipCredentials("1001", "wrong") });
        await replay.PlayAsync(3); // INVITE, echo, 401
        var challenge = replay.Frames[4];
        var retry = await replay.Peer.ReceiveAsync("sip");
        Assert.That(retry.Sip.GetHeader("Authorization"), Does.StartWith("Digest username=\"1001\""));

        // The server challenges again (a new nonce, not stale): the password was wrong.
        await replay.Peer.AcknowledgeAsync(retry, "retry-txn", retry.Text[(retry.Text.IndexOf('\n') + 1)..]);
        await replay.Peer.SendAsync(challenge.Message
            .Replace("0a68dc46-1f10-447d-97fb-8009cf3e5b1a", "retry-txn", StringComparison.Ordinal)
            .Replace("8a2f6c1e3b5d7f90a1c3e5f7", "0000000000000000000000ff", StringComparison.Ordinal));

        var error = (await Assert.ThrowsAsync<SipFailureException>(() => call.Within()))!;
        Assert.That(error.StatusCode, Is.EqualTo(401));
        await replay.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(300));
    }

    [Test]
    public async Task The_outbound_proxy_goes_in_the_fourth_field_and_the_request_uri_is_unchanged()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-proxy");
        var call = client.CreateUacAsync("sip:15551234567@pbx.example.com", new UacOptions { LocalSdp = OfferOf(replay), Proxy = "sip:127.0.0.1:5086" });
        await replay.PlayAsync(6);
        var dialog = await call.Within();

        var hangup = dialog.DestroyAsync();
        await replay.PlayToEndAsync();
        await hangup.Within();
    }

    [Test]
    public async Task A_re_INVITE_with_new_sdp_returns_the_far_ends_new_sdp()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-reinvite");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) });
        await replay.PlayAsync(6);
        var dialog = await call.Within();

        var newOffer = replay.Next.Sip.Body;
        var modify = dialog.ModifyAsync(newOffer);
        await replay.PlayAsync(5); // re-INVITE (Contact, sip:placeholder), echo, 200, ACK to the remote target, echo
        var answer = await modify.Within();

        Assert.That(answer, Does.Contain("o=sipp 1 2 IN IP4"));
        Assert.That(dialog.LocalSdp, Is.EqualTo(newOffer));
        var hangup = dialog.DestroyAsync();
        await replay.PlayToEndAsync();
        await hangup.Within();
    }

    [Test]
    public async Task A_late_offer_INVITE_answers_the_offer_in_the_ACK_as_drachtio_fsmrf_does()
    {
        // The FreeSWITCH endpoint flow: INVITE without SDP, the offer in the 200, our answer in the ACK;
        // later FreeSWITCH hangs up and its BYE is answered 200.
        var (client, replay) = await ConnectToFlowAsync("mrf-endpoint-play");
        var answerSent = replay.Frames[5].Sip.Body;
        string? offerSeen = null;
        var call = client.CreateUacAsync("sip:drachtio@127.0.0.1:5090", new UacOptions
        {
            Headers = new Dictionary<string, string>
            {
                ["User-Agent"] = "drachtio-fsmrf:d52f5986-e822-4e12-b993-5720c38a1259",
                ["X-esl-outbound"] = "127.0.0.1:8086",
            },
            AnswerOffer = (offer, _) => { offerSeen = offer; return Task.FromResult(answerSent); },
        });
        await replay.PlayAsync(5);
        var endpoint = await call.Within();

        Assert.That(offerSeen, Does.Contain("RTP/SAVP").And.Contains("RTP/AVP"));
        Assert.That(endpoint.LocalSdp, Is.EqualTo(answerSent));
        Assert.That(endpoint.RemoteSdp, Is.EqualTo(offerSeen));
        var destroyed = new TaskCompletionSource<DialogDestroyedEventArgs>();
        endpoint.Destroyed += (_, e) => destroyed.TrySetResult(e);

        // Skip the phone leg (frames 7–20: another dialog) and play FreeSWITCH's BYE and our 200.
        replay.Skip(21 - replay.Position);
        await replay.PlayToEndAsync();
        Assert.That((await destroyed.Task.Within()).By, Is.EqualTo(DialogTerminatedBy.Remote));
    }

    [Test]
    public async Task When_no_answer_can_be_made_to_the_offer_in_the_2xx_it_is_still_acknowledged_and_then_hung_up()
    {
        var (client, replay) = await ConnectToFlowAsync("mrf-endpoint-play");
        var call = client.CreateUacAsync("sip:drachtio@127.0.0.1:5090", new UacOptions
        {
            Headers = new Dictionary<string, string>
            {
                ["User-Agent"] = "drachtio-fsmrf:d52f5986-e822-4e12-b993-5720c38a1259",
                ["X-esl-outbound"] = "127.0.0.1:8086",
            },
            AnswerOffer = async (_, _) =>
            {
                await Task.Yield();
                throw new InvalidOperationException("no media for this offer");
            },
        });
        await replay.PlayAsync(3); // INVITE, echo, 200 OK with the offer

        var ack = await replay.Peer.ReceiveAsync("sip");
        Assert.That((ack.Sip.Method, ack.Sip.Body), Is.EqualTo(("ACK", "")), "a 2xx is always acknowledged");
        var bye = await replay.Peer.ReceiveAsync("sip");
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"), "and the call it made is hung up");
        Assert.That(bye.Fields[3], Is.EqualTo(ack.Fields[3]));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => call.Within());
        Assert.That(error!.Message, Is.EqualTo("no media for this offer"));
    }

    [Test]
    public async Task Requests_inside_a_dialog_are_answered_and_unknown_dialogs_get_481()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-answer-bye");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) });
        await replay.PlayAsync(6);
        var dialog = await call.Within();
        var peer = replay.Peer;
        var received = new TaskCompletionSource<SipRequestReceivedEventArgs>();
        dialog.RequestReceived += (_, e) => received.TrySetResult(e);

        await peer.SendAsync(NetworkRequest("INFO", dialog.Id, "info-txn", dialog.CallId));
        var answer = await peer.ReceiveAsync("sip");
        await peer.AcknowledgeAsync(answer, "info-txn", answer.Text[(answer.Text.IndexOf('\n') + 1)..]);
        Assert.That(answer.Fields[2], Is.EqualTo("info-txn"));
        Assert.That(answer.Sip.StatusCode, Is.EqualTo(200));
        Assert.That(answer.Sip.CSeq, Is.EqualTo(new SipCSeq(7, "INFO")));
        Assert.That((await received.Task.Within()).AnsweredWith, Is.EqualTo(200));

        await peer.SendAsync(NetworkRequest("INFO", "nope;from-tag=x", "stray-txn", "nope"));
        var stray = await peer.ReceiveAsync("sip");
        Assert.That(stray.Sip.StatusCode, Is.EqualTo(481));

        await peer.SendAsync(NetworkRequest("REFER", dialog.Id, "refer-txn", dialog.CallId));
        Assert.That((await peer.ReceiveAsync("sip")).Sip.StatusCode, Is.EqualTo(501));
    }

    [Test]
    public async Task Frames_delivered_one_byte_at_a_time_make_the_same_call()
    {
        var (client, replay) = await ConnectToFlowAsync("uac-answer-bye");
        replay.Peer.WriteByteByByte = true;
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = OfferOf(replay) });
        await replay.PlayAsync(6);
        var dialog = await call.Within();
        Assert.That(dialog.State, Is.EqualTo(DialogState.Confirmed));
    }

    [Test]
    public async Task Bad_input_is_refused_before_anything_is_sent()
    {
        var client = NewClient();
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateUacAsync("tel:+15551234567"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateUacAsync(Phone, new UacOptions { CallerId = "+1555\r\nVia: x" }));
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateUacAsync(Phone, new UacOptions { CallerName = "Alert\r\nX: 1" }));
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateUacAsync(Phone, new UacOptions { Proxy = "sip:1.2.3.4|evil" }));
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateUacAsync(Phone, new UacOptions
        {
            Headers = new Dictionary<string, string> { ["X-Alert"] = "disk\r\nBYE sip:x SIP/2.0" },
        }));
        await Assert.ThrowsAsync<DrachtioConnectionLostException>(() => client.CreateUacAsync(Phone), "not connected yet");
    }

    [Test]
    public async Task Caller_id_and_display_name_form_the_From_header()
    {
        var client = NewClient();
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAuthenticatedAsync();
        await connect.Within();

        _ = client.CreateUacAsync("sip:+15551234567@pbx.example.com", new UacOptions
        {
            CallerId = "+15559876543",
            CallerName = "Server \"NAS\" Alerts",
            Headers = new Dictionary<string, string> { ["X-VoiceBridge-Call"] = "42" },
        });
        var invite = await peer.ReceiveAsync("sip");

        Assert.That(invite.Fields, Is.EqualTo(new[] { invite.Id, "sip", "", "" }));
        Assert.That(invite.Sip.From, Is.EqualTo("\"Server \\\"NAS\\\" Alerts\" <sip:+15559876543@pbx.example.com>"));
        Assert.That(invite.Sip.GetHeader("X-VoiceBridge-Call"), Is.EqualTo("42"));
        Assert.That(invite.Sip.GetHeader("Content-Length"), Is.EqualTo("0"));
    }

    [TestCase("123#", "sip:123%23@pbx.example.com")]
    [TestCase("*97", "sip:*97@pbx.example.com")]
    [TestCase("+15559876543", "sip:+15559876543@pbx.example.com")]
    public async Task A_caller_id_with_characters_a_SIP_user_part_cannot_hold_is_escaped(string callerId, string from)
    {
        var client = NewClient();
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAuthenticatedAsync();
        await connect.Within();

        _ = client.CreateUacAsync("sip:+15551234567@pbx.example.com", new UacOptions { CallerId = callerId });
        var invite = await peer.ReceiveAsync("sip");

        Assert.That(invite.Sip.From, Is.EqualTo($"<{from}>"));
    }

    [Test]
    public void User_parts_are_escaped_as_RFC_3261_allows()
    {
        Assert.That(SipUri.EscapeUser("alice.smith-1_(x)!~*'"), Is.EqualTo("alice.smith-1_(x)!~*'"));
        Assert.That(SipUri.EscapeUser("&=+$,;?/"), Is.EqualTo("&=+$,;?/"));
        Assert.That(SipUri.EscapeUser("a#b%c d"), Is.EqualTo("a%23b%25c%20d"));
        Assert.That(SipUri.EscapeUser("é"), Is.EqualTo("%C3%A9"));
    }

    private async Task<(DrachtioClient Client, CaptureReplay Replay)> ConnectToFlowAsync(string scenario)
    {
        var client = NewClient();
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAsync();
        var replay = new CaptureReplay(peer, Captures.Flow(scenario));
        await replay.PlayAsync(2); // authenticate|cymru| and the server's OK
        await connect.Within();
        return (client, replay);
    }

    private readonly Dictionary<CaptureReplay, FakeDrachtioPeer> _peers = [];

    private FakeDrachtioPeer PeerOf(CaptureReplay replay) => _peers[replay];

    private DrachtioClient NewClient()
    {
        var client = new DrachtioClient(_server.ClientOptions(), TestLog.For<DrachtioClient>());
        _clients.Add(client);
        return client;
    }

    /// <summary>The SDP drachtio-srf offered in the capture's first INVITE, so our INVITE can match it.</summary>
    private static string OfferOf(CaptureReplay replay) =>
        replay.Frames.First(f => f.From == Side.App && f.Message.Contains("\r\nINVITE ", StringComparison.Ordinal)).Sip.Body;


    private static string NetworkRequest(string method, string dialogId, string transactionId, string callId) =>
        $"{FakeDrachtioPeer.NewId()}|sip|network|300|udp|127.0.0.1|5085|12:00:00.000000|{transactionId}|{dialogId}|\r\n" +
        $"{method} sip:127.0.0.1:5060 SIP/2.0\r\n" +
        "Via: SIP/2.0/UDP 127.0.0.1:5085;branch=z9hG4bK-1\r\n" +
        "From: <sip:15551234567@127.0.0.1:5085>;tag=far\r\n" +
        $"To: <sip:127.0.0.1:5060>;tag={dialogId[(dialogId.IndexOf('=') + 1)..]}\r\n" +
        $"Call-ID: {callId}\r\n" +
        $"CSeq: 7 {method}\r\n" +
        "Content-Length: 0\r\n\r\n";
}
