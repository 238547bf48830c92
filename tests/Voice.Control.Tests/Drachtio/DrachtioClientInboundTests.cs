using System.Threading.Channels;
using Voice.Control.Drachtio;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Drachtio;

/// <summary>INVITEs that come in through the client, against the fake server replaying the captured call-inbound exchange.</summary>
public class DrachtioClientInboundTests
{
    private FakeDrachtioServer _server = null!;
    private DrachtioClient? _client;

    [SetUp]
    public void StartServer() => _server = FakeDrachtioServer.Start();

    [TearDown]
    public async Task StopServer()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    /// <summary>A client taking INVITEs, connected and routed as captured: authenticate, then <c>route|invite</c> and its OK.</summary>
    private async Task<(DrachtioClient Client, CaptureReplay Replay, ChannelReader<IncomingInvite> Invites)> ConnectAsync(Func<IncomingInvite, Task>? handler = null)
    {
        var invites = Channel.CreateUnbounded<IncomingInvite>();
        _client = new DrachtioClient(_server.ClientOptions(), TestLog.For<DrachtioClient>());
        _client.AcceptInvites(handler ?? (invite => invites.Writer.WriteAsync(invite).AsTask()));
        var connect = _client.ConnectAsync();
        var replay = new CaptureReplay(await _server.AcceptAsync(), InboundCapture.Frames);
        await replay.PlayAsync(4); // authenticate, OK, route|invite (checked against the capture), OK
        await connect.Within();
        return (_client, replay, invites.Reader);
    }

    [Test]
    public async Task An_INVITE_is_answered_with_our_SDP_and_the_callers_BYE_ends_the_dialog_it_made()
    {
        var (client, replay, invites) = await ConnectAsync();
        await replay.PlayAsync(1); // the INVITE
        var invite = await invites.ReadAsync().AsTask().Within();
        Assert.That((invite.TransactionId, invite.Offer, invite.Request.RequestUri), Is.EqualTo((InboundCapture.TransactionId, InboundCapture.Offer, "sip:15551234567@127.0.0.1:5060")));
        Assert.That(client.PendingInvites, Is.EqualTo(1));

        var accepting = invite.AcceptAsync(InboundCapture.AnswerSdp);
        await replay.PlayAsync(2); // our 200 OK (checked against drachtio-srf's), its echo
        var dialog = await accepting.Within();

        Assert.That((dialog.Id, dialog.IsIncoming, dialog.State), Is.EqualTo((InboundCapture.DialogId, true, DialogState.Confirmed)));
        Assert.That((dialog.LocalTag, dialog.RemoteTag), Is.EqualTo(("mB9D27Kr1BjHm", "25136SIPpTag001")), "our tag is the one drachtio-server put on the To");
        Assert.That((dialog.RemoteTarget, dialog.RemoteSdp, dialog.LocalSdp), Is.EqualTo(("sip:sipp@127.0.0.1:5090", InboundCapture.Offer, InboundCapture.AnswerSdp)));
        Assert.That(client.Dialogs, Does.Contain(dialog));
        Assert.That(client.PendingInvites, Is.Zero);

        await replay.PlayAsync(1); // the caller's ACK
        Assert.That((await dialog.Acknowledged.Within()).Method, Is.EqualTo("ACK"));

        await replay.PlayAsync(3); // the caller's BYE, our 200 (checked), its echo
        var ended = await dialog.Terminated.Within();
        Assert.That(ended.By, Is.EqualTo(DialogTerminatedBy.Remote));
        Assert.That(client.Dialogs, Is.Empty);
        Assert.That(replay.AtEnd);
    }

    [Test]
    public async Task Ringing_and_a_refusal_carry_the_INVITEs_identity_and_the_headers_given()
    {
        var (client, replay, invites) = await ConnectAsync();
        await replay.PlayAsync(1);
        var invite = await invites.ReadAsync().AsTask().Within();

        var ringing = invite.RingAsync();
        var frame = await replay.Peer.ReceiveAsync("sip");
        Assert.That(frame.Fields[2], Is.EqualTo(InboundCapture.TransactionId));
        var sip = frame.Sip;
        Assert.That((sip.StatusCode, sip.CallId, sip.GetHeader("CSeq"), sip.Body), Is.EqualTo((180, "1-25136@127.0.0.1", "1 INVITE", string.Empty)));
        Assert.That(sip.To, Is.EqualTo(InboundCapture.Frames[InboundCapture.Invite].Sip.To), "drachtio-server adds our tag");
        await replay.Peer.SendAsync(InboundCapture.EchoOf(frame.Id, "180 Ringing"));
        await ringing.Within();
        Assert.That(invite.IsAnswered, Is.False);

        var refusing = invite.RejectAsync(486, "Busy Here", [new("Reason", "SIP ;cause=486 ;text=\"too many calls\"")]);
        var refusal = await replay.Peer.ReceiveAsync("sip");
        Assert.That((refusal.Sip.StatusCode, refusal.Sip.ReasonPhrase, refusal.Sip.GetHeader("Reason")), Is.EqualTo((486, "Busy Here", "SIP ;cause=486 ;text=\"too many calls\"")));
        await replay.Peer.SendAsync(InboundCapture.EchoOf(refusal.Id, "486 Busy Here"));
        await refusing.Within();
        Assert.That(client.PendingInvites, Is.Zero);
        Assert.Throws<InvalidOperationException>(() => invite.AcceptAsync(InboundCapture.AnswerSdp), "one final response");
    }

    [Test]
    public async Task A_CANCEL_before_the_answer_tells_the_handler_and_needs_no_response()
    {
        var (client, replay, invites) = await ConnectAsync();
        await replay.PlayAsync(1);
        var invite = await invites.ReadAsync().AsTask().Within();

        await replay.Peer.SendAsync(InboundCapture.Cancel());
        Assert.That(await invite.Canceled.Within(), Is.EqualTo(DialogTerminatedBy.Remote));
        Assert.That(client.PendingInvites, Is.Zero);
        await replay.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    [Test]
    public async Task A_handler_that_fails_before_answering_gets_the_caller_a_500()
    {
        var (_, replay, _) = await ConnectAsync(_ => throw new InvalidOperationException("the application is broken"));
        await replay.PlayAsync(1);
        var frame = await replay.Peer.ReceiveAsync("sip");
        Assert.That((frame.Fields[2], frame.Sip.StatusCode, frame.Sip.CallId), Is.EqualTo((InboundCapture.TransactionId, 500, "1-25136@127.0.0.1")));
    }

    [Test]
    public async Task A_re_INVITE_from_the_caller_is_answered_by_whoever_answers_its_offers()
    {
        var (_, replay, invites) = await ConnectAsync();
        await replay.PlayAsync(1);
        var invite = await invites.ReadAsync().AsTask().Within();
        var accepting = invite.AcceptAsync(InboundCapture.AnswerSdp);
        await replay.PlayAsync(3); // 200, echo, ACK
        var dialog = await accepting.Within();
        var offers = new List<string>();
        dialog.AnswerOffer = (offer, _) =>
        {
            offers.Add(offer);
            return Task.FromResult("v=0\r\nm=audio 40010 RTP/AVP 0\r\na=sendonly\r\n");
        };

        // The caller puts us on hold: the captured BYE's dialog and Via, as a re-INVITE with SDP.
        var hold = InboundCapture.Offer.Replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000\r\na=sendonly", StringComparison.Ordinal);
        var bye = replay.Frames[InboundCapture.Bye].Message;
        var reinvite = bye.Replace("BYE sip:", "INVITE sip:", StringComparison.Ordinal).Replace("CSeq: 2 BYE", "CSeq: 2 INVITE", StringComparison.Ordinal)
            .Replace("Content-Length: 0\r\n\r\n", $"Content-Type: application/sdp\r\nContent-Length: {hold.Length}\r\n\r\n{hold}", StringComparison.Ordinal);
        await replay.Peer.SendAsync(FakeDrachtioPeer.NewId() + reinvite[reinvite.IndexOf('|', StringComparison.Ordinal)..]);

        var answer = await replay.Peer.ReceiveAsync("sip");
        Assert.That((answer.Sip.StatusCode, answer.Sip.GetHeader("CSeq")), Is.EqualTo((200, "2 INVITE")));
        Assert.That(answer.Sip.Body, Does.Contain("m=audio 40010 RTP/AVP 0").And.Contain("a=sendonly"), "the answerer's SDP");
        Assert.That(offers, Is.EqualTo(new[] { hold }));
        Assert.That((dialog.RemoteSdp, dialog.State), Is.EqualTo((hold, DialogState.Confirmed)));
    }

    [Test]
    public async Task After_a_reconnect_INVITEs_are_routed_again_and_one_waiting_on_the_lost_link_is_abandoned()
    {
        var (client, replay, invites) = await ConnectAsync();
        await replay.PlayAsync(1);
        var invite = await invites.ReadAsync().AsTask().Within();

        await replay.Peer.CloseAsync();
        Assert.That(await invite.Canceled.Within(), Is.EqualTo(DialogTerminatedBy.ConnectionLost));
        Assert.That(client.PendingInvites, Is.Zero);

        var again = new CaptureReplay(await _server.AcceptAsync(), InboundCapture.Frames);
        await again.PlayAsync(4); // authenticate, OK, route|invite, OK
        await Poll.UntilAsync(() => client.IsConnected);
    }

    [Test]
    public async Task A_caller_still_waiting_when_the_client_stops_is_refused_503_not_left_ringing()
    {
        var (client, replay, invites) = await ConnectAsync();
        await replay.PlayAsync(1);
        await invites.ReadAsync().AsTask().Within();

        var stopping = client.DisposeAsync().AsTask();
        var refusal = await replay.Peer.ReceiveAsync("sip");
        Assert.That((refusal.Fields[2], refusal.Sip.StatusCode, refusal.Sip.GetHeader("Reason")),
            Is.EqualTo((InboundCapture.TransactionId, 503, "SIP ;cause=503 ;text=\"shutting down\"")));
        await replay.Peer.SendAsync(InboundCapture.EchoOf(refusal.Id, "503 Service Unavailable"));
        await stopping.Within();
        _client = null;
    }

    [Test]
    public void A_second_handler_is_refused()
    {
        _client = new DrachtioClient(_server.ClientOptions(), TestLog.For<DrachtioClient>());
        _client.AcceptInvites(_ => Task.CompletedTask);
        Assert.Throws<InvalidOperationException>(() => _client.AcceptInvites(_ => Task.CompletedTask));
    }
}
