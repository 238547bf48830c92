using System.Net;
using System.Net.Sockets;
using System.Text;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Media;

/// <summary>
/// A media server under test with both fakes around it: the fake drachtio-server, the fake FreeSWITCH Event
/// Socket port, and FreeSWITCH's side of the outbound connection, each replaying one end-to-end capture.
/// </summary>
public sealed class MediaRig : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private MediaRig(string scenario, MediaServerOptions options, TimeSpan transactionTimeout)
    {
        Scenario = scenario;
        Drachtio = FakeDrachtioServer.Start();
        FreeSwitch = FakeEslServer.Start();
        Broker = new MediaSessionBroker(new EslOutboundOptions { Port = 0 }, TestLog.Factory);
        Broker.Start();
        Client = new DrachtioClient(Drachtio.ClientOptions() with { TransactionTimeout = transactionTimeout }, TestLog.For<DrachtioClient>());
        Server = new MediaServer(options with { EventSocket = EventSocketOptions(FreeSwitch.Port) }, Client, Broker, TestLog.Factory);
    }

    public string Scenario { get; }

    public FakeDrachtioServer Drachtio { get; }

    public FakeEslServer FreeSwitch { get; }

    public MediaSessionBroker Broker { get; }

    public DrachtioClient Client { get; }

    public MediaServer Server { get; }

    public CaptureReplay Signalling { get; private set; } = null!;

    public EslReplay Inbound { get; private set; } = null!;

    public static MediaServerOptions DefaultOptions { get; } = new()
    {
        SipUri = "sip:drachtio@127.0.0.1:5090",
        EndpointTimeout = TimeSpan.FromSeconds(3),
        CloseTimeout = TimeSpan.FromMilliseconds(300),
    };

    public static EslClientOptions EventSocketOptions(int port) => new()
    {
        Host = "127.0.0.1",
        Port = port,
        ReconnectMinDelay = TimeSpan.FromMilliseconds(20),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>
    /// drachtio-server authenticated, the Event Socket logged in and <c>sofia status</c> answered, as captured. The
    /// client waits 500 ms for a SIP transaction's answer unless the test gives another time.
    /// </summary>
    public static async Task<MediaRig> ConnectAsync(string scenario, MediaServerOptions? options = null, TimeSpan? transactionTimeout = null)
    {
        var rig = new MediaRig(scenario, options ?? DefaultOptions, transactionTimeout ?? TimeSpan.FromMilliseconds(500));
        var connect = rig.Client.ConnectAsync();
        rig.Signalling = new CaptureReplay(await rig.Drachtio.AcceptAsync(), Captures.Flow(scenario));
        await rig.Signalling.PlayAsync(2);
        await connect.Within();

        var ready = rig.Server.ConnectAsync();
        rig.Inbound = new EslReplay(await rig.FreeSwitch.AcceptAsync(), OneAtATime(Captures.EslFlow(scenario, "esl-in")));
        await rig.Inbound.PlayAsync(3); // auth/request, auth ClueCon, +OK accepted
        // drachtio-fsmrf asked for json HEARTBEATs; our client subscribes in plain and always includes HEARTBEAT.
        await rig.Inbound.ExpectClientAsync((_, actual) => Assert.That(actual.Split(' '), Does.Contain("HEARTBEAT").And.Contains("plain")));
        await rig.Inbound.PlayAsync(3); // +OK event listener, api sofia status, its table
        await ready.Within();
        return rig;
    }

    /// <summary>
    /// Creates an endpoint through the captured flow: the INVITE without SDP (checked for the fsmrf headers), the
    /// echo, FreeSWITCH's 200 with its SAVP + AVP offer, our receive-only ACK that takes the AVP stream; then FreeSWITCH dials the outbound
    /// listener and the session is connected and subscribed.
    /// </summary>
    public async Task<(Endpoint Endpoint, EslReplay Outbound)> CreateEndpointAsync()
    {
        var create = Server.CreateEndpointAsync();
        var outbound = await PlayEndpointCreationAsync();
        return (await create.Within(), outbound);
    }

    /// <summary>FreeSWITCH's side of an endpoint creation the client has started; returns the outbound session's replay.</summary>
    public async Task<EslReplay> PlayEndpointCreationAsync()
    {
        var id = await ExpectEndpointInviteAsync();
        await Signalling.PlayAsync(2); // echo, 200 OK with the offer
        await ExpectRecvOnlyAckAsync();
        await Signalling.PlayAsync(1); // its echo

        var outbound = await DialInAsync(id);
        await outbound.PlayAsync(2); // connect, channel data
        await outbound.ExpectClientAsync((_, actual) =>
            Assert.That(actual, Is.EqualTo("event json " + string.Join(' ', Endpoint.Events)), "the endpoint's own subscription"));
        await outbound.PlayAsync(3); // +OK, filter Unique-ID <uuid>, +OK filter added
        // drachtio-fsmrf then asks for media stats and dumps the channel; we need neither.
        outbound.Skip(4);
        return outbound;
    }

    /// <summary>
    /// FreeSWITCH's side of an endpoint created to answer <paramref name="phoneOffer"/>: the INVITE carries the offer,
    /// the captured 200's SDP stands for FreeSWITCH's answer, and the ACK carries nothing. Returns the SDP it answered with.
    /// </summary>
    public async Task<(EslReplay Outbound, string Answer)> PlayEndpointAnsweringAsync(string phoneOffer)
    {
        var id = await ExpectEndpointAnsweringInviteAsync(phoneOffer);
        var answer = Signalling.Frames[Signalling.Position + 1].Sip.Body;
        await Signalling.PlayAsync(2); // echo, 200 OK with FreeSWITCH's SDP
        await Signalling.ExpectClientAsync((_, actual) =>
        {
            Assert.That(actual.Sip.Method, Is.EqualTo("ACK"));
            Assert.That(actual.Sip.Body, Is.Empty, "the INVITE made the offer: the ACK carries no answer");
        });
        await Signalling.PlayAsync(1); // its echo
        var outbound = await DialInAsync(id);
        await outbound.PlayAsync(2); // connect, channel data
        await outbound.ExpectClientAsync((_, actual) => Assert.That(actual, Does.StartWith("event json ")));
        await outbound.PlayAsync(3); // +OK, filter, +OK
        outbound.Skip(4);
        return (outbound, answer);
    }

    /// <summary>Reads the INVITE of an endpoint made to answer <paramref name="phoneOffer"/> (it carries the offer) and returns our endpoint id.</summary>
    public async Task<string> ExpectEndpointAnsweringInviteAsync(string phoneOffer)
    {
        string? id = null;
        await Signalling.ExpectClientAsync((captured, actual) =>
        {
            Assert.That(actual.Sip.ToString(), Is.EqualTo("INVITE sip:drachtio@127.0.0.1:5090"));
            Assert.That(actual.Sip.Body, Is.EqualTo(phoneOffer), "the phone's offer, for FreeSWITCH to answer");
            id = actual.Sip.GetHeader("User-Agent")!["drachtio-fsmrf:".Length..];
        });
        return id!;
    }

    /// <summary>Reads the endpoint INVITE in place of the captured one and returns our endpoint id.</summary>
    public async Task<string> ExpectEndpointInviteAsync()
    {
        string? id = null;
        await Signalling.ExpectClientAsync((captured, actual) =>
        {
            Assert.That(actual.Fields[1..], Is.EqualTo(captured.HeaderFields[1..]));
            var invite = actual.Sip;
            Assert.That(invite.ToString(), Is.EqualTo("INVITE sip:drachtio@127.0.0.1:5090"));
            Assert.That(invite.GetHeader("User-Agent"), Does.StartWith("drachtio-fsmrf:"));
            Assert.That(invite.GetHeader("X-esl-outbound"), Is.EqualTo(Broker.AdvertisedAddress));
            Assert.That(invite.Body, Is.Empty, "a late-offer INVITE: FreeSWITCH makes the offer");
            id = invite.GetHeader("User-Agent")!["drachtio-fsmrf:".Length..];
        });
        return id!;
    }

    public Task ExpectRecvOnlyAckAsync() => Signalling.ExpectClientAsync((captured, actual) =>
    {
        Assert.That(actual.Fields[1..], Is.EqualTo(captured.HeaderFields[1..]));
        var ack = actual.Sip;
        Assert.That(ack.Method, Is.EqualTo("ACK"));
        // drachtio-fsmrf echoed FreeSWITCH's offer (the capture); we answer it: the SAVP stream rejected, the AVP one accepted.
        var streams = Lines(ack.Body, "m=");
        Assert.That(streams, Has.Count.EqualTo(2), "one answer per offered stream");
        Assert.That(streams[0], Is.EqualTo("m=audio 0 RTP/SAVP 0"), "SRTP refused");
        Assert.That(streams[1], Does.Match("^m=audio [1-9][0-9]* RTP/AVP 0 8 101$"), "plain RTP taken, with the configured codecs");
        Assert.That(Lines(ack.Body, "a=crypto:"), Is.Empty);
        Assert.That(Lines(ack.Body, "a=recvonly"), Has.Count.EqualTo(1), "receive-only until the phone's SDP arrives");
    });

    /// <summary>FreeSWITCH's dialplan <c>socket</c> app connecting back, replaying the capture's esl-out connection under our endpoint id.</summary>
    public async Task<EslReplay> DialInAsync(string endpointId)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, int.Parse(Broker.AdvertisedAddress.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)));
        var peer = new FakeEslPeer(socket);
        _owned.Add(peer);
        var replay = new EslReplay(peer, OneAtATime(Captures.EslFlow(Scenario, "esl-out")));
        replay.Map(CapturedEndpointId(), endpointId);
        return replay;
    }

    /// <summary>The endpoint id drachtio-fsmrf used in the capture, replaced by ours in what FreeSWITCH says.</summary>
    public string CapturedEndpointId() => Signalling.Frames.First(f => f.From == Side.App && f.Message.Contains("\r\nINVITE ", StringComparison.Ordinal)).Sip
        .GetHeader("User-Agent")!["drachtio-fsmrf:".Length..];

    /// <summary>
    /// The capture's messages with every command directly followed by its reply. drachtio-fsmrf pipelined
    /// commands (<c>event</c>, <c>filter</c>, <c>api</c> in one write); our client sends the next one after the
    /// reply. Replies are matched first in, first out, so the n-th reply answers the n-th command; events keep
    /// their places.
    /// </summary>
    public static IReadOnlyList<(Side From, byte[] Bytes)> OneAtATime(IReadOnlyList<(Side From, byte[] Bytes)> messages)
    {
        static bool IsReply((Side From, byte[] Bytes) m)
        {
            if (m.From != Side.Server)
            {
                return false;
            }
            var text = Encoding.UTF8.GetString(m.Bytes);
            var head = text[..Math.Max(0, text.IndexOf("\n\n", StringComparison.Ordinal))];
            return head.Split('\n').Any(l => l is "Content-Type: command/reply" or "Content-Type: api/response");
        }

        var used = new bool[messages.Count];
        var result = new List<(Side, byte[])>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            if (used[i])
            {
                continue;
            }
            used[i] = true;
            result.Add(messages[i]);
            if (messages[i].From != Side.App)
            {
                continue;
            }
            for (var j = i + 1; j < messages.Count; j++)
            {
                if (!used[j] && IsReply(messages[j]))
                {
                    used[j] = true;
                    result.Add(messages[j]);
                    break;
                }
            }
        }
        return result;
    }

    /// <summary>The phone's SDP from the capture's 200 OK to the phone's INVITE.</summary>
    public string PhoneAnswer() => Signalling.Frames.First(f =>
        f.From == Side.Server && f.Message.Contains("\r\nSIP/2.0 200 OK", StringComparison.Ordinal) && f.Message.Contains("SIPpTag", StringComparison.Ordinal)
        && f.Message.Contains("application/sdp", StringComparison.Ordinal)).Sip.Body;

    /// <summary>Moves the drachtio replay to the re-INVITE our endpoint sends to FreeSWITCH (the phone leg is not the endpoint's).</summary>
    public void SkipToEndpointReinvite() =>
        Signalling.Skip(Signalling.Frames.ToList().FindIndex(Signalling.Position, f => f.From == Side.App && f.Message.Contains("\r\nINVITE sip:placeholder", StringComparison.Ordinal)) - Signalling.Position);

    /// <summary>Answers a BYE the client sent: drachtio-server's echo, then the far end's 200 OK.</summary>
    public async Task AnswerByeAsync(ClientFrame bye, string fromPort = "5090")
    {
        var request = bye.Sip;
        var dialogId = bye.Fields[3];
        var callId = dialogId[..dialogId.IndexOf(';')];
        var sent = $"BYE sip:drachtio@127.0.0.1:{fromPort};transport=udp SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKbye\r\n" +
                   $"From: <sip:127.0.0.1:5060>;tag={dialogId[(dialogId.IndexOf('=') + 1)..]}\r\nTo: <sip:drachtio@127.0.0.1:5090>;tag=66vtj20XN7DBm\r\n" +
                   $"Call-ID: {callId}\r\nCSeq: 123105334 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        Assert.That(request.Method, Is.EqualTo("BYE"));
        await Signalling.Peer.AcknowledgeAsync(bye, "bye-txn", sent);
        var ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;rport=5060;branch=z9hG4bKbye\r\n" +
                 $"From: <sip:127.0.0.1:5060>;tag={dialogId[(dialogId.IndexOf('=') + 1)..]}\r\nTo: <sip:drachtio@127.0.0.1:5090>;tag=66vtj20XN7DBm\r\n" +
                 $"Call-ID: {callId}\r\nCSeq: 123105334 BYE\r\nContent-Length: 0\r\n\r\n";
        await Signalling.Peer.SendAsync($"{FakeDrachtioPeer.NewId()}|sip|network|{Encoding.UTF8.GetByteCount(ok)}|udp|127.0.0.1|{fromPort}|12:00:00.000000|bye-txn|{dialogId}|\r\n{ok}");
    }

    public static List<string> Lines(string sdp, string prefix) =>
        sdp.Split("\r\n").Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    public async ValueTask DisposeAsync()
    {
        // drachtio first, so endpoints still up fall back to an Event Socket hangup instead of waiting for BYE answers.
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        await Broker.DisposeAsync();
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        await FreeSwitch.DisposeAsync();
        await Drachtio.DisposeAsync();
    }
}
