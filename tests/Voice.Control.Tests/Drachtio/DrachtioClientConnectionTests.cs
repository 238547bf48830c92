using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Voice.Control.Drachtio;
using Voice.Control.Sip;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Drachtio;

/// <summary>The link itself: authentication, liveness, reconnects, TLS and what happens to calls when it drops.</summary>
public class DrachtioClientConnectionTests
{
    private const string Phone = "sip:15551234567@127.0.0.1:5085";
    private const string Offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
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

    [Test]
    public async Task Authentication_sends_the_secret_and_reports_the_servers_sip_addresses()
    {
        var client = NewClient(o => o with { Tags = ["voicebridge", "eu"] });
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAsync();
        var auth = await peer.AuthenticateAsync();
        await connect.Within();

        Assert.That(auth.Fields.Skip(1), Is.EqualTo(new[] { "authenticate", "cymru", "voicebridge,eu" }));
        Assert.That(client.IsConnected, Is.True);
        Assert.That(client.Server!.Version, Is.EqualTo("v0.9.10-1-g9c2dd4cb6a"));
        Assert.That(client.Server.GetSipHostPort("udp"), Is.EqualTo("127.0.0.1:5060"));
    }

    [Test]
    public async Task A_wrong_secret_is_a_distinct_error_and_is_not_retried()
    {
        var disconnected = new TaskCompletionSource<DrachtioDisconnectedEventArgs>();
        var client = NewClient(o => o with { Secret = "wrongsecret" });
        client.Disconnected += (_, e) => disconnected.TrySetResult(e);
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAsync();

        // raw-client stream 0: authenticate|wrongsecret| → NO|incorrect secret, then the server closes.
        var trace = Captures.TraceSection2(Path.Combine(Captures.DrachtioDir, "raw-client.txt"));
        var replay = new CaptureReplay(peer, trace.Take(2).Select(f => new CapturedFrame(f.From, f.Bytes)).ToList());
        await replay.PlayAsync(2);
        await peer.CloseAsync();

        var error = (await Assert.ThrowsAsync<DrachtioAuthenticationException>(() => connect.Within()))!;
        Assert.That(error.Message, Does.Contain("incorrect secret"));
        Assert.That((await disconnected.Task.Within()).WillReconnect, Is.False);
        await _server.AssertNoConnectionAsync(TimeSpan.FromMilliseconds(400));
        Assert.That(_server.Connections, Is.EqualTo(1));
    }

    [Test]
    public async Task Pings_flow_on_the_interval_and_are_answered()
    {
        var client = NewClient(o => o with { PingInterval = TimeSpan.FromMilliseconds(50) });
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAuthenticatedAsync();
        await connect.Within();

        await Poll.UntilAsync(() => peer.PingsReceived >= 3);
        Assert.That(client.IsConnected, Is.True);
        Assert.That(_server.Connections, Is.EqualTo(1));
    }

    [Test]
    public async Task A_link_that_stops_answering_pings_is_declared_dead_and_reconnected()
    {
        var client = NewClient(o => o with { PingInterval = TimeSpan.FromMilliseconds(50), PingTimeout = TimeSpan.FromMilliseconds(200) });
        var disconnected = new TaskCompletionSource<DrachtioDisconnectedEventArgs>();
        var reconnected = new TaskCompletionSource<DrachtioConnectedEventArgs>();
        client.Disconnected += (_, e) => disconnected.TrySetResult(e);
        client.Connected += (_, e) => { if (e.IsReconnect) { reconnected.TrySetResult(e); } };
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.Within();
        var pending = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = Offer });
        await first.ReceiveAsync("sip"); // the INVITE, never answered

        first.AnswerPings = false; // the server hangs: TCP stays up, nothing comes back

        var lost = await disconnected.Task.Within();
        Assert.That(lost.WillReconnect, Is.True);
        Assert.That(lost.Reason.Message, Does.Contain("did not answer a ping"));
        var error = (await Assert.ThrowsAsync<DrachtioConnectionLostException>(() => pending.Within()))!;
        Assert.That(error.Message, Does.StartWith("connection to drachtio-server lost"));

        var second = await _server.AcceptAuthenticatedAsync();
        Assert.That((await reconnected.Task.Within()).IsReconnect, Is.True);
        Assert.That(client.IsConnected, Is.True);
        await first.Closed.Within(); // the dead connection was closed, not leaked
        _ = second;
    }

    [Test]
    public async Task Connecting_retries_with_back_off_until_drachtio_server_is_up()
    {
        // Nothing listens at first: reserve a port, release it, start the server there later.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var client = new DrachtioClient(_server.ClientOptions() with { Port = port }, TestLog.For<DrachtioClient>());
        _client = client;
        var connect = client.ConnectAsync();

        await Task.Delay(300);
        Assert.That(connect.IsCompleted, Is.False, "still trying");
        listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
        listener.Start();
        using var socket = await listener.AcceptSocketAsync().WaitAsync(Timeouts.Step);
        await using var peer = new FakeDrachtioPeer(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true));
        await peer.AuthenticateAsync();
        await connect.Within();
        listener.Stop();
        Assert.That(client.IsConnected, Is.True);
    }

    [Test]
    public void Reconnect_delays_grow_exponentially_with_jitter_up_to_the_cap()
    {
        var client = new DrachtioClient(_server.ClientOptions() with
        {
            ReconnectMinDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(2),
        });
        _client = client;
        for (var failures = 0; failures < 8; failures++)
        {
            var ceiling = Math.Min(100 * Math.Pow(2, failures), 2000);
            var delays = Enumerable.Range(0, 50).Select(_ => client.NextReconnectDelay(failures).TotalMilliseconds).ToList();
            Assert.That(delays, Has.All.InRange(ceiling / 2, ceiling), $"after {failures} failures");
            Assert.That(delays.Distinct().Count(), Is.GreaterThan(1), "jittered");
        }
    }

    [Test]
    public async Task Losing_the_link_mid_call_ends_the_dialog_and_hangs_it_up_after_reconnecting()
    {
        var (client, replay, dialog) = await EstablishCallAsync();
        var first = replay.Peer;
        var destroyed = new TaskCompletionSource<DialogDestroyedEventArgs>();
        dialog.Destroyed += (_, e) => destroyed.TrySetResult(e);

        await first.CloseAsync(); // drachtio-server restarts

        Assert.That((await destroyed.Task.Within()).By, Is.EqualTo(DialogTerminatedBy.ConnectionLost));
        var second = await _server.AcceptAuthenticatedAsync();
        var bye = await second.ReceiveAsync("sip");
        Assert.That(bye.Fields[3], Is.EqualTo(dialog.Id), "BYE addressed to the orphaned dialog");
        Assert.That(bye.Sip.Method, Is.EqualTo("BYE"));
    }

    [Test]
    public async Task A_dialog_the_restarted_server_forgot_is_hung_up_with_a_BYE_built_from_the_dialog_state()
    {
        // Captured with the real drachtio-server restarted under an answered call (flows/drachtio-restart).
        var client = NewClient();
        var connect = client.ConnectAsync();
        var before = new CaptureReplay(await _server.AcceptAsync(), Captures.Flow("drachtio-restart"));
        await before.PlayAsync(2); // authenticate, OK
        await connect.Within();
        var call = client.CreateUacAsync("sip:15551230014@127.0.0.1:42011", new UacOptions { LocalSdp = before.Frames[2].Sip.Body, CallerId = "15550009999" });
        await before.PlayToEndAsync(); // INVITE, echo, 180, 200, ACK, echo
        var dialog = await call.Within();

        await before.Peer.CloseAsync(); // drachtio-server stops
        Assert.That((await dialog.Terminated.Within()).By, Is.EqualTo(DialogTerminatedBy.ConnectionLost));

        // The restarted server: the BYE in the dialog is refused, the one built from the dialog state goes out.
        var after = new CaptureReplay(await _server.AcceptAsync(), Captures.Flow("drachtio-restart", "drachtio#2"));
        await after.PlayAsync(4); // authenticate, OK, BYE in the dialog, NOK unable to find dialog
        var bye = await after.ExpectClientAsync(); // checked against the capture: R-URI, Call-ID, From and To with tags, CSeq + 1
        Assert.That(bye.Fields[2..4], Is.EqualTo(new[] { "", "" }), "a new request, not one in a dialog the server no longer has");
        await after.PlayToEndAsync(); // echo, the phone's 200
        await after.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(300));
    }

    [Test]
    public async Task Losing_the_link_while_ringing_fails_the_call_and_cancels_the_INVITE_after_reconnecting()
    {
        var (client, replay, call) = await StartCallAsync("uac-cancel");
        var first = replay.Peer;
        await replay.PlayAsync(3); // INVITE, echo, 180

        await first.CloseAsync();

        var error = (await Assert.ThrowsAsync<DrachtioConnectionLostException>(() => call.Within()))!;
        Assert.That(error.Message, Does.Contain("connection to drachtio-server lost"));
        var second = await _server.AcceptAuthenticatedAsync();
        var cancel = await second.ReceiveAsync("sip");
        Assert.That(cancel.Sip.Method, Is.EqualTo("CANCEL"));
        Assert.That(cancel.Fields[2], Is.EqualTo("f7c59b41-e626-4922-91ff-3a25fb4d6092"), "the INVITE's transaction id");
    }

    [Test]
    public async Task A_malformed_frame_closes_the_connection_with_a_protocol_error_and_the_client_reconnects()
    {
        var client = NewClient();
        var disconnected = new TaskCompletionSource<DrachtioDisconnectedEventArgs>();
        client.Disconnected += (_, e) => disconnected.TrySetResult(e);
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.Within();

        await first.SendRawAsync("12x#garbage"u8.ToArray());

        var lost = await disconnected.Task.Within();
        Assert.That(lost.Reason.InnerException, Is.TypeOf<DrachtioProtocolException>());
        Assert.That(lost.Reason.Message, Does.Contain("malformed drachtio frame").And.Contain("'12x#garbage'"));
        await _server.AcceptAuthenticatedAsync();
    }

    [Test]
    public async Task A_reply_for_an_unknown_request_is_ignored_and_a_control_request_refused_with_NOK_fails_clearly()
    {
        var client = NewClient();
        var connect = client.ConnectAsync();
        var peer = await _server.AcceptAuthenticatedAsync();
        await connect.Within();

        await peer.SendAsync($"{FakeDrachtioPeer.NewId()}|response|00000000-0000-0000-0000-000000000000|OK|pong");
        var call = client.CreateUacAsync(Phone, new UacOptions { LocalSdp = Offer });
        var invite = await peer.ReceiveAsync("sip");
        await peer.SendAsync($"{FakeDrachtioPeer.NewId()}|response|{invite.Id}|NOK|Server error: no route");

        var error = (await Assert.ThrowsAsync<DrachtioRequestException>(() => call.Within()))!;
        Assert.That(error.Reason, Is.EqualTo("Server error: no route"));
        Assert.That(client.IsConnected, Is.True);
    }

    [Test]
    public async Task Tls_is_used_for_the_first_connection_and_kept_for_reconnects()
    {
        using var certificate = SelfSigned();
        await _server.DisposeAsync();
        _server = FakeDrachtioServer.Start(certificate);
        var client = NewClient(o => o with
        {
            Tls = new DrachtioTlsOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidation = (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString(),
            },
        });
        var connect = client.ConnectAsync();
        var first = await _server.AcceptAuthenticatedAsync();
        await connect.Within();

        await first.CloseAsync();

        // The fake only hands out connections whose TLS handshake succeeded.
        await _server.AcceptAuthenticatedAsync();
        Assert.That(_server.Connections, Is.EqualTo(2));
    }

    [Test]
    public void Invalid_options_are_reported_all_at_once()
    {
        var options = new DrachtioClientOptions { Host = "", Port = 0, Secret = "a|b", PingTimeout = TimeSpan.Zero };
        var error = Assert.Throws<ArgumentException>(() => new DrachtioClient(options))!;
        Assert.That(error.Message, Does.Contain("Host is required").And.Contain("Port 0").And.Contain("Secret must not contain").And.Contain("PingTimeout"));
    }

    [Test]
    public async Task Disposing_hangs_up_open_dialogs_and_closes_the_link()
    {
        var (client, replay, dialog) = await EstablishCallAsync();
        var peer = replay.Peer;

        var dispose = client.DisposeAsync().AsTask();
        await replay.PlayToEndAsync(); // BYE (checked against the capture), echo, 200
        await dispose.Within();
        _client = null;

        Assert.That(dialog.State, Is.EqualTo(DialogState.Terminated));
        await peer.Closed.Within();
        Assert.That(client.IsConnected, Is.False);
    }

    /// <summary>Connects and sends the INVITE of a captured flow, with the SDP drachtio-srf offered there.</summary>
    private async Task<(DrachtioClient Client, CaptureReplay Replay, Task<SipDialog> Call)> StartCallAsync(string flow)
    {
        var client = NewClient();
        var connect = client.ConnectAsync();
        var replay = new CaptureReplay(await _server.AcceptAsync(), Captures.Flow(flow));
        await replay.PlayAsync(2);
        await connect.Within();
        var invite = replay.Next.Message;
        var offer = SipMessage.Parse(invite.AsSpan(invite.IndexOf('\n') + 1)).Body;
        return (client, replay, client.CreateUacAsync(Phone, new UacOptions { LocalSdp = offer }));
    }

    /// <summary>The answered call of uac-answer-bye, up to and including the ACK's echo.</summary>
    private async Task<(DrachtioClient Client, CaptureReplay Replay, SipDialog Dialog)> EstablishCallAsync()
    {
        var (client, replay, call) = await StartCallAsync("uac-answer-bye");
        await replay.PlayAsync(6);
        return (client, replay, await call.Within());
    }

    private DrachtioClient NewClient(Func<DrachtioClientOptions, DrachtioClientOptions>? configure = null)
    {
        var options = _server.ClientOptions();
        _client = new DrachtioClient(configure is null ? options : configure(options), TestLog.For<DrachtioClient>());
        return _client;
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }
}
