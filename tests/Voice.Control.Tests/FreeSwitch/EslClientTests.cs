using System.Text;
using Voice.Control.FreeSwitch;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.FreeSwitch;

/// <summary>The inbound Event Socket client against a fake FreeSWITCH replaying the captures.</summary>
public class EslClientTests
{
    private const string AuthRequest = "Content-Type: auth/request\n\n";
    private FakeEslServer _server = null!;
    private readonly List<EslClient> _clients = [];

    [SetUp]
    public void StartServer() => _server = FakeEslServer.Start();

    [TearDown]
    public async Task StopServer()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync().AsTask().WaitAsync(Timeouts.Step);
        }
        _clients.Clear();
        await _server.DisposeAsync();
    }

    private EslClient NewClient(Func<EslClientOptions, EslClientOptions>? configure = null)
    {
        var options = new EslClientOptions
        {
            Port = _server.Port,
            ReconnectMinDelay = TimeSpan.FromMilliseconds(20),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(100),
        };
        var client = new EslClient(configure?.Invoke(options) ?? options);
        _clients.Add(client);
        return client;
    }

    [Test]
    public async Task Connects_runs_bgapi_survives_a_FreeSWITCH_restart_and_restores_its_subscription()
    {
        var client = NewClient();
        await client.SubscribeAsync(["CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE"]);
        var disconnected = new TaskCompletionSource<Exception>();
        client.Disconnected += (_, e) => disconnected.TrySetResult(e);
        var connect = client.ConnectAsync();

        var first = new EslReplay(await _server.AcceptAsync(), Captures.EslFlow("esl-fs-restart", "esl-in"));
        await first.PlayAsync(5); // auth/request, auth ClueCon, +OK accepted, event plain … (checked), +OK
        await connect.Within();
        Assert.That(client.IsConnected, Is.True);

        var job = client.BackgroundApiAsync("status");
        await first.PlayAsync(3); // bgapi status + our Job-UUID, +OK Job-UUID, BACKGROUND_JOB with it
        Assert.That(await job.Within(), Does.StartWith("UP 0 years, 0 days, 0 hours, 15 minutes"));

        await first.PlayAsync(1); // HEARTBEAT
        await Poll.UntilAsync(() => client.Load is not null);
        Assert.That(client.Load!.MaxSessions, Is.EqualTo(200), "as status says: 200 session(s) max");
        Assert.That(client.Load.IdleCpu, Is.GreaterThan(0));

        await first.PlayToEndAsync(); // "The system is being shut down." notice
        await first.Peer.CloseAsync(); // and FIN
        Assert.That(await disconnected.Task.Within(), Is.TypeOf<EslConnectionLostException>());

        var second = new EslReplay(await _server.AcceptAsync(), Captures.EslFlow("esl-fs-restart", "esl-in#2"));
        await second.PlayAsync(6); // a fresh auth/request, auth, +OK, the same subscription again, +OK, HEARTBEAT
        await Poll.UntilAsync(() => client.IsConnected);

        var dispose = client.DisposeAsync().AsTask();
        await second.PlayToEndAsync(); // exit, +OK bye, disconnect notice
        await second.Peer.CloseAsync();
        await dispose.Within();
        _clients.Remove(client);
    }

    [Test]
    public async Task A_wrong_password_fails_the_connect_and_is_not_retried()
    {
        var client = NewClient(o => o with { Password = "wrong" });
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAsync();
        await peer.SendAsync(AuthRequest);
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("auth wrong"));
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: -ERR invalid\n\n");
        await peer.CloseAsync();

        var ex = await Assert.ThrowsAsync<EslAuthenticationException>(() => connect.Within());
        Assert.That(ex!.Message, Does.Contain("-ERR invalid"));
        await Task.Delay(200);
        Assert.That(client.IsConnected, Is.False);
    }

    [Test]
    public async Task An_ACL_rejection_is_its_own_error()
    {
        var client = NewClient();
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAsync();
        await peer.SendAsync("Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n");
        await peer.CloseAsync();

        var ex = await Assert.ThrowsAsync<EslAccessDeniedException>(() => connect.Within());
        Assert.That(ex!.Message, Does.Contain("Access Denied, go away.").And.Contain("apply-inbound-acl"));
    }

    [Test]
    public async Task Api_replies_are_matched_in_order_and_ERR_is_an_error()
    {
        var (client, peer) = await ConnectedAsync();
        var captured = EslReplay.FromTrace(Path.Combine(Captures.FreeSwitchDir, "esl-inbound.txt"));
        var replies = captured.Where(m => m.From == Side.Server && Encoding.UTF8.GetString(m.Bytes).StartsWith("Content-Type: api/response", StringComparison.Ordinal))
            .Take(3).ToList();

        // Three calls in flight at once; FreeSWITCH answers in order with the captured responses.
        var status = client.ApiAsync("status");
        var sofia = client.ApiAsync("sofia status");
        var missing = client.ApiAsync("no_such_command");
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("api status"));
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("api sofia status"));
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("api no_such_command"));
        foreach (var reply in replies)
        {
            await peer.SendAsync(reply.Bytes);
        }

        Assert.That(await status.Within(), Does.Contain("FreeSWITCH (Version 1.11.1-release"));
        Assert.That(await sofia.Within(), Does.Contain("sip:mod_sofia@127.0.0.1:5090\tRUNNING (0)"));
        var ex = await Assert.ThrowsAsync<EslCommandException>(() => missing.Within());
        Assert.That(ex!.Reply, Is.EqualTo("-ERR no_such_command Command not found!"));
    }

    [Test]
    public async Task A_late_reply_after_a_timeout_is_discarded_not_given_to_the_next_call()
    {
        var (client, peer) = await ConnectedAsync(o => o with { CommandTimeout = TimeSpan.FromMilliseconds(200) });

        var slow = client.ApiAsync("show channels count");
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("api show channels count"));
        await Assert.ThrowsAsync<TimeoutException>(() => slow.Within());

        var next = client.ApiAsync("status");
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("api status"));
        await peer.SendAsync("Content-Type: api/response\nContent-Length: 10\n\n\n2 total.\n"); // the late one
        await peer.SendAsync("Content-Type: api/response\nContent-Length: 6\n\nUP ok\n");

        Assert.That(await next.Within(), Is.EqualTo("UP ok\n"));
    }

    [Test]
    public async Task Calls_in_flight_fail_clearly_when_FreeSWITCH_goes_away()
    {
        var (client, peer) = await ConnectedAsync();
        var call = client.ApiAsync("status");
        var job = client.BackgroundApiAsync("originate loopback/9999 &park");
        await peer.ReceiveCommandAsync();
        await peer.ReceiveCommandAsync();
        await peer.CloseAsync();

        await Assert.ThrowsAsync<EslConnectionLostException>(() => call.Within());
        await Assert.ThrowsAsync<EslConnectionLostException>(() => job.Within());
        await Assert.ThrowsAsync<EslConnectionLostException>(() => client.ApiAsync("status"));
    }

    [Test]
    public async Task A_silent_FreeSWITCH_is_declared_dead_and_reconnected()
    {
        var (client, peer) = await ConnectedAsync(o => o with { HeartbeatTimeout = TimeSpan.FromMilliseconds(400) });
        var disconnected = new TaskCompletionSource<Exception>();
        client.Disconnected += (_, e) => disconnected.TrySetResult(e);

        // No HEARTBEAT, nothing at all: the watchdog closes the link and the client dials again.
        var reason = await disconnected.Task.Within();
        Assert.That(reason.InnerException, Is.TypeOf<TimeoutException>());
        var again = await _server.AcceptAsync();
        await again.SendAsync(AuthRequest);
        Assert.That(await again.ReceiveCommandAsync(), Is.EqualTo("auth ClueCon"));
        await peer.DisposeAsync();
    }

    [Test]
    public async Task The_event_stream_is_bounded_and_drops_the_oldest()
    {
        var (client, peer) = await ConnectedAsync(o => o with { EventBufferCapacity = 2 }, subscribe: ["CHANNEL_CREATE"]);
        var events = EslReplay.FromTrace(Path.Combine(Captures.FreeSwitchDir, "esl-inbound.txt"))
            .Where(m => Encoding.UTF8.GetString(m.Bytes).Contains("Event-Name: CHANNEL_CREATE", StringComparison.Ordinal)).ToList();
        Assert.That(events, Has.Count.EqualTo(2));

        await peer.SendAsync(events[0].Bytes);
        await peer.SendAsync(events[1].Bytes);
        await peer.SendAsync(events[0].Bytes);
        await Poll.UntilAsync(() => client.DroppedEvents == 1);

        var first = await client.Events.ReadAsync().AsTask().Within();
        var second = await client.Events.ReadAsync().AsTask().Within();
        Assert.That(first.UniqueId, Is.EqualTo("7d6897cc-45b5-4561-895e-2536de50992f"), "the oldest was dropped");
        Assert.That(second.UniqueId, Is.EqualTo("06a83442-bc7a-4092-815e-61d5ed7dfd1c"));
    }

    [Test]
    public async Task A_command_cannot_smuggle_a_second_command()
    {
        var (client, peer) = await ConnectedAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => client.ApiAsync("status\n\nexit"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.BackgroundApiAsync("status\nJob-UUID: x"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.SubscribeAsync(["CHANNEL_CREATE\n\nexit"]));
        await peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
    }

    /// <summary>A client connected and subscribed, with the fake's side of the connection.</summary>
    private async Task<(EslClient Client, FakeEslPeer Peer)> ConnectedAsync(
        Func<EslClientOptions, EslClientOptions>? configure = null, IReadOnlyList<string>? subscribe = null)
    {
        var client = NewClient(configure);
        if (subscribe is not null)
        {
            await client.SubscribeAsync(subscribe);
        }
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAsync();
        await peer.SendAsync(AuthRequest);
        Assert.That(await peer.ReceiveCommandAsync(), Is.EqualTo("auth ClueCon"));
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK accepted\n\n");
        Assert.That(await peer.ReceiveCommandAsync(), Does.StartWith("event plain "));
        await peer.SendAsync("Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n");
        await connect.Within();
        return (client, peer);
    }
}
