using System.Net;
using System.Net.Sockets;
using System.Text;
using Voice.Control.FreeSwitch;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.FreeSwitch;

/// <summary>The outbound listener and its sessions, with a fake FreeSWITCH dialling in and replaying the captures.</summary>
public class EslOutboundTests
{
    private static readonly string[] FsmrfEvents =
    [
        "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "DTMF",
        "DETECTED_TONE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
    ];

    private EslOutboundListener _listener = null!;

    [SetUp]
    public void Listen()
    {
        _listener = new EslOutboundListener(new EslOutboundOptions { Port = 0 });
        _listener.Start();
    }

    [TearDown]
    public async Task Stop() => await _listener.DisposeAsync();

    /// <summary>FreeSWITCH's socket app dialling our listener.</summary>
    private async Task<FakeEslPeer> DialInAsync()
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _listener.LocalEndPoint.Port));
        return new FakeEslPeer(socket);
    }

    /// <summary>FreeSWITCH dials in with the fsmrf capture's call; its connect and channel data are played.</summary>
    private async Task<(FakeEslPeer Peer, EslReplay Replay, EslOutboundSession Session)> ConnectFsmrfCallAsync()
    {
        var peer = await DialInAsync();
        var replay = new EslReplay(peer, EslReplay.FromTrace(Path.Combine(Captures.FreeSwitchDir, "esl-outbound-fsmrf-json.txt")));
        await replay.PlayAsync(2); // connect, the channel data
        return (peer, replay, await _listener.Sessions.ReadAsync().AsTask().Within());
    }

    [Test]
    public async Task Calls_waiting_for_FreeSWITCH_s_next_event_hold_no_read_buffer()
    {
        // Each call has a connection of its own that waits for most of the call. One that kept its 64 KB read buffer
        // while it waited made a host with a few hundred calls hold tens of megabytes.
        const int calls = 100;
        var connected = new List<(FakeEslPeer Peer, EslOutboundSession Session)>();
        await ConnectFsmrfCallAsync(); // the first call: what is made once (code, pools) is not counted
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < calls; i++)
        {
            var (peer, _, session) = await ConnectFsmrfCallAsync();
            connected.Add((peer, session));
        }
        var perCall = (GC.GetTotalMemory(forceFullCollection: true) - before) / calls;

        // Both ends of each connection are counted (this fake FreeSWITCH's too), and the call's channel data: about 35 KB
        // in all; with the read buffer kept, about 100 KB.
        Assert.That(perCall, Is.LessThan(64 * 1024), $"{perCall} bytes held per waiting call: less than the read buffer alone would be");
        foreach (var (peer, session) in connected)
        {
            await session.DisposeAsync();
            await peer.DisposeAsync();
        }
    }

    [Test]
    public async Task A_call_is_connected_subscribed_played_to_completion_and_hung_up_as_drachtio_fsmrf_does()
    {
        var peer = await DialInAsync();
        var replay = new EslReplay(peer, EslReplay.FromTrace(Path.Combine(Captures.FreeSwitchDir, "esl-outbound-fsmrf-json.txt")));
        await replay.PlayAsync(2); // connect, the channel data
        await using var session = await _listener.Sessions.ReadAsync().AsTask().Within();

        Assert.That(session.UniqueId, Is.EqualTo("e03f5bd1-3032-47f5-943e-b05d95217ff5"));
        Assert.That(session.ChannelData.Variable("current_application"), Is.EqualTo("socket"));
        var received = new List<string>();
        session.EventReceived += (_, e) => { lock (received) { received.Add(e.Name); } };

        var subscribe = session.SubscribeAsync(FsmrfEvents);
        await replay.PlayAsync(4); // event json … (checked), +OK, filter Unique-ID <uuid>, +OK filter added
        await subscribe.Within();

        var dump = session.ApiAsync($"uuid_dump {session.UniqueId} json");
        await replay.PlayAsync(2);
        Assert.That(await dump.Within(), Does.StartWith("{\"Event-Name\":\"CHANNEL_DATA\""));

        var play = session.ExecuteAsync("playback", "tone_stream://%(1000,0,440)");
        await replay.PlayAsync(5); // sendmsg execute with event-lock and our Event-UUID, +OK, EXECUTE, PLAYBACK_START, PLAYBACK_STOP
        Assert.That(play.IsCompleted, Is.False, "not complete before CHANNEL_EXECUTE_COMPLETE");
        await replay.PlayAsync(1);
        var complete = await play.Within();
        Assert.That(complete.Name, Is.EqualTo("CHANNEL_EXECUTE_COMPLETE"));
        Assert.That(complete["Application"], Is.EqualTo("playback"));
        Assert.That(complete["Application-Response"], Is.EqualTo("FILE PLAYED"));

        var hangup = session.HangupAsync();
        await replay.PlayToEndAsync(); // sendmsg hangup, +OK, HANGUP, the stale socket completion, CALLSTATE, HANGUP_COMPLETE, notice
        await hangup.Within();
        await peer.CloseAsync();

        Assert.That(await session.HungUp.Within(), Is.EqualTo("NORMAL_CLEARING"));
        await Poll.UntilAsync(() => session.IsClosed);
        await Poll.UntilAsync(() => { lock (received) { return received.Count >= 8; } });
        Assert.That(received, Is.EqualTo(new[]
        {
            "CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE",
            "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_CALLSTATE", "CHANNEL_HANGUP_COMPLETE",
        }), "every event of the call in order, the socket app's stale completion included");
    }

    [Test]
    public async Task Events_reach_a_handler_from_its_subscription_on_and_applications_complete_without_one()
    {
        var (peer, replay, connected) = await ConnectFsmrfCallAsync();
        await using var session = connected;
        var subscribe = session.SubscribeAsync(FsmrfEvents);
        await replay.PlayAsync(4);
        await subscribe.Within();
        var dump = session.ApiAsync($"uuid_dump {session.UniqueId} json");
        await replay.PlayAsync(2);
        await dump.Within();

        // Nobody listens while the message plays: its completion still arrives.
        var play = session.ExecuteAsync("playback", "tone_stream://%(1000,0,440)");
        await replay.PlayAsync(6);
        Assert.That((await play.Within())["Application-Response"], Is.EqualTo("FILE PLAYED"));

        var received = new List<string>();
        session.EventReceived += (_, e) => { lock (received) { received.Add(e.Name); } };
        var hangup = session.HangupAsync();
        await replay.PlayToEndAsync();
        await hangup.Within();
        await peer.CloseAsync();
        await Poll.UntilAsync(() => session.IsClosed);
        await session.DisposeAsync(); // waits for the handler's last event

        // The events before the subscription are not held for it; those after it come in order.
        Assert.That(received, Is.EqualTo(new[] { "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_CALLSTATE", "CHANNEL_HANGUP_COMPLETE" }));
    }

    [Test]
    public async Task Code_that_reacts_to_the_closed_socket_finds_it_closed_and_its_commands_fail_at_once()
    {
        var (peer, replay, connected) = await ConnectFsmrfCallAsync();
        await using var session = connected;
        var closedSeen = false;
        var reaction = session.Closed.ContinueWith(_ =>
        {
            closedSeen = session.IsClosed;
            return session.ApiAsync("status");
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Unwrap();

        await peer.CloseAsync();

        // Not after the 10 s command timeout: the connection refuses new commands before it says it closed.
        Assert.That(async () => await reaction.Within(), Throws.InstanceOf<EslConnectionLostException>());
        Assert.That(closedSeen, Is.True);
    }

    [Test]
    public async Task Subscribing_sends_the_event_list_and_the_filter_before_either_reply_and_a_refusal_names_its_command()
    {
        var (session, peer) = await ConnectedAsync();

        var subscribe = session.SubscribeAsync(["CHANNEL_EXECUTE_COMPLETE", "DTMF"]);
        // Both commands arrive while FreeSWITCH has answered neither: one round trip, not two.
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("event json CHANNEL_EXECUTE_COMPLETE DTMF"));
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo($"filter Unique-ID {session.UniqueId}"));
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n");
        Assert.That(subscribe.IsCompleted, Is.False, "not subscribed until the filter is answered too");
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: -ERR invalid filter\n\n");

        var ex = await Assert.ThrowsAsync<EslCommandException>(() => subscribe.Within());
        Assert.That(ex!.Message, Does.Contain("filter Unique-ID").And.Contain("invalid filter"));
        await session.DisposeAsync();
        await peer.DisposeAsync();
    }

    [Test]
    public async Task A_hangup_during_an_application_fails_it_clearly()
    {
        var (session, peer) = await ConnectedAsync();

        var play = session.ExecuteAsync("playback", "/sounds/long.wav");
        Assert.That(await peer.ReceiveCommandAsync(), Does.StartWith($"sendmsg {session.UniqueId}\ncall-command: execute\nexecute-app-name: playback\n"));
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK\n\n");
        await peer.CloseAsync();

        var ex = await Assert.ThrowsAsync<EslConnectionLostException>(() => play.Within());
        Assert.That(ex!.Message, Does.Contain("ended before the application completed"));
        await session.DisposeAsync();
    }

    [Test]
    public async Task Cancelling_an_application_stops_it_on_the_wire()
    {
        var (session, peer) = await ConnectedAsync();
        using var cts = new CancellationTokenSource();

        var play = session.ExecuteAsync("playback", "/sounds/long.wav", cts.Token);
        await peer.ReceiveCommandAsync();
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK\n\n");
        await cts.CancelAsync();

        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo($"api uuid_break {session.UniqueId} all"));
        await peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        await Assert.ThrowsAsync<TaskCanceledException>(() => play.Within());
        await session.DisposeAsync();
        await peer.DisposeAsync();
    }

    [Test]
    public async Task Linger_keeps_the_session_until_the_disconnect_notice()
    {
        var (session, peer) = await ConnectedAsync("esl-outbound-linger.txt");
        var linger = session.LingerAsync(3);
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("linger 3"));
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK will linger 3 seconds\n\n");
        await linger.Within();

        var notices = EslReplay.FromTrace(Path.Combine(Captures.FreeSwitchDir, "esl-outbound-linger.txt"))
            .Select(m => Encoding.UTF8.GetString(m.Bytes)).Where(t => t.Contains("text/disconnect-notice", StringComparison.Ordinal)).ToList();
        var lingerNotice = notices.Single(t => t.Contains("Content-Disposition: linger", StringComparison.Ordinal));
        await peer.SendAsync(lingerNotice[lingerNotice.IndexOf("Content-Type: text/disconnect-notice", StringComparison.Ordinal)..]);
        await Task.Delay(100);
        Assert.That(session.HungUp.IsCompleted, Is.False, "linger is not the end");

        var disconnect = notices[^1];
        await peer.SendAsync(disconnect[disconnect.LastIndexOf("Content-Type: text/disconnect-notice", StringComparison.Ordinal)..]);
        await session.HungUp.Within();
        await session.DisposeAsync();
        await peer.DisposeAsync();
    }

    [Test]
    public void Application_arguments_cannot_smuggle_commands()
    {
        Assert.Throws<ArgumentException>(() => EslCommands.Execute("uuid", "playback", "a.wav\n\napi shutdown", "id"));
        Assert.Throws<ArgumentException>(() => EslCommands.Execute("uuid", "play back", "a.wav", "id"));
        Assert.Throws<ArgumentException>(() => EslCommands.Hangup("uuid\nx", "NORMAL_CLEARING"));
    }

    /// <summary>A session past connect, from the channel data of a capture.</summary>
    private async Task<(EslOutboundSession Session, FakeEslPeer Peer)> ConnectedAsync(string capture = "esl-outbound.txt")
    {
        var peer = await DialInAsync();
        var replay = new EslReplay(peer, EslReplay.FromTrace(Path.Combine(Captures.FreeSwitchDir, capture)));
        await replay.PlayAsync(2);
        var session = await _listener.Sessions.ReadAsync().AsTask().Within();
        return (session, peer);
    }
}
