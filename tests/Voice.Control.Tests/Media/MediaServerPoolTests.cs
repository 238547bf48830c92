using System.Text;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Media;

/// <summary>Media servers coming up (profile check) and the pool choosing among them.</summary>
public class MediaServerPoolTests
{
    private readonly Owned _owned = new();
    private FakeDrachtioServer _drachtio = null!;
    private DrachtioClient _client = null!;
    private MediaSessionBroker _broker = null!;

    [SetUp]
    public async Task Start()
    {
        _drachtio = FakeDrachtioServer.Start();
        _client = new DrachtioClient(_drachtio.ClientOptions(), TestLog.For<DrachtioClient>());
        var connect = _client.ConnectAsync();
        await _drachtio.AcceptAuthenticatedAsync();
        await connect.Within();
        _broker = new MediaSessionBroker(new EslOutboundOptions { Port = 0 }, TestLog.Factory);
        _broker.Start();
    }

    [TearDown]
    public async Task Stop()
    {
        await _owned.DisposeAllAsync();
        await _client.DisposeAsync();
        await _broker.DisposeAsync();
        await _drachtio.DisposeAsync();
    }

    [Test]
    public async Task A_server_whose_profile_is_not_running_is_refused_with_the_reason()
    {
        var (server, fake) = NewServer("fs-a");
        var connect = server.ConnectAsync();
        var login = await LogInAsync(fake, SofiaStatus("RUNNING (0)").Replace("mrf\tprofile", "internal\tprofile", StringComparison.Ordinal));

        var missing = await Assert.ThrowsAsync<MediaServerUnavailableException>(() => connect.Within());
        Assert.That(missing!.Message, Does.Contain("SIP profile 'mrf' does not exist"));
        Assert.That(server.IsConnected, Is.False);

        var check = server.CheckProfileAsync();
        await login.PlayAsync(0);
        Assert.That(await login.Peer.ReceiveCommandAsync(), Is.EqualTo("api sofia status"));
        await login.Peer.SendAsync(ApiResponse(SofiaStatus("DOWN")));
        var down = await Assert.ThrowsAsync<MediaServerUnavailableException>(() => check.Within());
        Assert.That(down!.Message, Does.Contain("'mrf' is DOWN, not RUNNING"));
        await Assert.ThrowsAsync<MediaServerUnavailableException>(() => server.CreateEndpointAsync());
    }

    [Test]
    public async Task Endpoints_go_round_robin_over_ready_servers_and_skip_one_that_is_down()
    {
        var (a, fakeA) = NewServer("fs-a");
        var (b, fakeB) = NewServer("fs-b");
        var (c, fakeC) = NewServer("fs-c");
        var loginA = await ConnectAsync(a, fakeA);
        await ConnectAsync(b, fakeB);
        fakeC.StopListening(); // fs-c is not running at all
        _ = c.EventSocket.ConnectAsync().ContinueWith(_ => { }, TaskScheduler.Default);
        await using var pool = new MediaServerPool([a, b, c]);

        var picked = Enumerable.Range(0, 6).Select(_ => pool.Next().Name).ToList();
        Assert.That(picked, Is.EqualTo(new[] { "fs-a", "fs-b", "fs-a", "fs-b", "fs-a", "fs-b" }).Or.EqualTo(new[] { "fs-b", "fs-a", "fs-b", "fs-a", "fs-b", "fs-a" }));

        // fs-a's HEARTBEAT shows up as its load; fs-c reports none and is not ready.
        var heartbeat = Captures.EslFlow("esl-fs-restart", "esl-in").First(m => Encoding.UTF8.GetString(m.Bytes).Contains("Event-Name: HEARTBEAT", StringComparison.Ordinal));
        await loginA.Peer.SendAsync(heartbeat.Bytes);
        await Poll.UntilAsync(() => pool.Status[0].Load is not null);
        var status = pool.Status;
        Assert.That(status.Select(s => (s.Name, s.IsConnected)), Is.EqualTo(new[] { ("fs-a", true), ("fs-b", true), ("fs-c", false) }));
        Assert.That(status[0].Load!.IdleCpu, Is.EqualTo(86.9).Within(0.001));
        Assert.That(status[2].Load, Is.Null);

        // fs-a goes down: every endpoint now goes to fs-b.
        await loginA.Peer.CloseAsync();
        await Poll.UntilAsync(() => !a.IsConnected);
        Assert.That(Enumerable.Range(0, 3).Select(_ => pool.Next().Name), Is.All.EqualTo("fs-b"));
    }

    [Test]
    public async Task Endpoints_go_to_the_server_with_the_least_load_its_heartbeat_reports()
    {
        var (a, fakeA) = NewServer("fs-a");
        var (b, fakeB) = NewServer("fs-b");
        var loginA = await ConnectAsync(a, fakeA);
        var loginB = await ConnectAsync(b, fakeB);
        await using var pool = new MediaServerPool([a, b]);

        // fs-a is busy with other hosts' calls (150 of 200 sessions): new endpoints go to fs-b, however many.
        await loginA.Peer.SendAsync(Heartbeat(sessions: 150));
        await Poll.UntilAsync(() => a.Load?.SessionCount == 150);
        Assert.That(Enumerable.Range(0, 5).Select(_ => pool.Next().Name), Is.All.EqualTo("fs-b"));

        // Then fs-b reports more still: fs-a is the lighter one now.
        await loginB.Peer.SendAsync(Heartbeat(sessions: 190));
        await Poll.UntilAsync(() => b.Load?.SessionCount == 190);
        Assert.That(Enumerable.Range(0, 3).Select(_ => pool.Next().Name), Is.All.EqualTo("fs-a"));
        Assert.That(MediaServerPool.LoadOf(b), Is.EqualTo(0.95).Within(0.0001), "190 of the 200 sessions its heartbeat allows");

        // Loaded alike, they take turns.
        await loginB.Peer.SendAsync(Heartbeat(sessions: 151));
        await Poll.UntilAsync(() => b.Load?.SessionCount == 151);
        Assert.That(Enumerable.Range(0, 4).Select(_ => pool.Next().Name).Distinct().Count(), Is.EqualTo(2));
    }

    /// <summary>The captured HEARTBEAT with another Session-Count (its Content-Length made to fit).</summary>
    private static byte[] Heartbeat(int sessions)
    {
        var captured = Encoding.UTF8.GetString(Captures.EslFlow("esl-fs-restart", "esl-in").First(m => Encoding.UTF8.GetString(m.Bytes).Contains("Event-Name: HEARTBEAT", StringComparison.Ordinal)).Bytes);
        var split = captured.IndexOf("\n\n", StringComparison.Ordinal) + 2;
        var body = captured[split..].Replace("Session-Count: 0\n", $"Session-Count: {sessions}\n", StringComparison.Ordinal);
        Assert.That(body, Does.Contain($"Session-Count: {sessions}"));
        var head = System.Text.RegularExpressions.Regex.Replace(captured[..split], @"Content-Length: \d+", $"Content-Length: {Encoding.UTF8.GetByteCount(body)}");
        return Encoding.UTF8.GetBytes(head + body);
    }

    [Test]
    public async Task With_no_server_ready_the_pool_says_which_are_down()
    {
        var (a, fake) = NewServer("fs-a");
        fake.StopListening();
        await using var pool = new MediaServerPool([a]);
        var ex = Assert.Throws<MediaServerUnavailableException>(() => pool.Next());
        Assert.That(ex!.Message, Does.Contain("no media server is ready").And.Contains("fs-a: Event Socket down"));
        await Assert.ThrowsAsync<MediaServerUnavailableException>(() => pool.CreateEndpointAsync());
    }

    private (MediaServer Server, FakeEslServer Fake) NewServer(string name)
    {
        var fake = FakeEslServer.Start();
        var server = new MediaServer(MediaRig.DefaultOptions with { Name = name, EventSocket = MediaRig.EventSocketOptions(fake.Port) }, _client, _broker, TestLog.Factory);
        _owned.Add(fake);
        _owned.Add(server);
        return (server, fake);
    }

    private static async Task<EslReplay> ConnectAsync(MediaServer server, FakeEslServer fake)
    {
        var connect = server.ConnectAsync();
        var login = await LogInAsync(fake, SofiaStatus("RUNNING (0)"));
        await connect.Within();
        return login;
    }

    /// <summary>The captured login (auth, event subscription) followed by a sofia status with the given table.</summary>
    private static async Task<EslReplay> LogInAsync(FakeEslServer fake, string sofiaStatus)
    {
        var login = MediaRig.OneAtATime(Captures.EslFlow("mrf-endpoint-play", "esl-in")).Take(5).ToList();
        var replay = new EslReplay(await fake.AcceptAsync(), login);
        await replay.PlayAsync(3);
        await replay.ExpectClientAsync((_, actual) => Assert.That(actual, Does.StartWith("event plain ")));
        await replay.PlayAsync(1);
        Assert.That(await replay.Peer.ReceiveCommandAsync(), Is.EqualTo("api sofia status"));
        await replay.Peer.SendAsync(ApiResponse(sofiaStatus));
        return replay;
    }

    /// <summary>The captured sofia status table with the mrf profile in the given state.</summary>
    private static string SofiaStatus(string state)
    {
        var captured = Encoding.UTF8.GetString(Captures.EslFlow("mrf-endpoint-play", "esl-in").First(m => m.Bytes.AsSpan().StartsWith("Content-Type: api/response"u8)).Bytes);
        return captured[(captured.IndexOf("\n\n", StringComparison.Ordinal) + 2)..].Replace("RUNNING (0)", state, StringComparison.Ordinal);
    }

    private static string ApiResponse(string body) => $"Content-Type: api/response\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\n\n{body}";
}
