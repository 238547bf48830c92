using Voice.Control.Drachtio;
using Voice.Control.Sip;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Drachtio;

/// <summary>REGISTER as a PBX extension: the captured 401 exchange, refresh before expiry, removal on shutdown.</summary>
public class SipRegistrationTests
{
    private static readonly RegistrationOptions Extension = new()
    {
        Registrar = "sip:pbx.example.com",
        User = "1001",
        Proxy = "sip:127.0.0.1:5087",
        Credentials = new SipCredentials("1001", "secret"),
        Expires = TimeSpan.FromSeconds(300),
    };

    private FakeDrachtioServer _server = null!;
    private DrachtioClient _client = null!;
    private ManualTimeProvider _time = null!;

    [SetUp]
    public void Start()
    {
        _server = FakeDrachtioServer.Start();
        _time = new ManualTimeProvider();
        _client = new DrachtioClient(_server.ClientOptions(), TestLog.For<DrachtioClient>(), _time);
    }

    [TearDown]
    public async Task Stop()
    {
        // Server first: the manual clock never bounds shutdown, so the client must see the link gone rather than
        // wait for an answer to its un-REGISTER that a test did not script.
        await _server.DisposeAsync();
        await _client.DisposeAsync().AsTask().WaitAsync(Timeouts.Step);
    }

    [Test]
    public async Task Registration_answers_the_401_as_captured_refreshes_before_expiry_and_unregisters_on_dispose()
    {
        var connect = _client.ConnectAsync();
        var peer = await _server.AcceptAsync();
        var replay = new CaptureReplay(peer, Captures.Flow("register-auth"));
        await replay.PlayAsync(2);
        await connect.Within();
        _client.CnonceFactory = () => "8fe4d0d8";

        var register = _client.RegisterAsync(Extension);
        await replay.PlayToEndAsync(); // REGISTER, echo, 401, REGISTER with Authorization (exact), echo, 200 expires=300
        var registration = await register.Within();

        Assert.That(registration.State, Is.EqualTo(RegistrationState.Registered));
        Assert.That(registration.GrantedExpires, Is.EqualTo(TimeSpan.FromSeconds(300)));
        Assert.That(registration.ExpiresAt, Is.EqualTo(_time.GetUtcNow().AddSeconds(300)));

        // Nothing happens before the refresh point (one minute before expiry)...
        await RefreshTimerArmed();
        _time.Advance(TimeSpan.FromSeconds(239));
        await peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));

        // ...then the same registration is refreshed: same Call-ID and From tag, next CSeq, and the PBX challenges again.
        _time.Advance(TimeSpan.FromSeconds(1));
        var refresh = await peer.ReceiveAsync("sip");
        Assert.That(refresh.Fields[4], Is.EqualTo("sip:127.0.0.1:5087"));
        Assert.That(refresh.Sip.CallId, Is.EqualTo("e871dba0-60c7-1240-da9f-925dacc98fbd"));
        Assert.That(refresh.Sip.From, Is.EqualTo("<sip:1001@pbx.example.com>;tag=98Up7ZN2465SQ"));
        Assert.That(refresh.Sip.CSeq, Is.EqualTo(new SipCSeq(123105324, "REGISTER")));
        Assert.That(refresh.Sip.GetHeader("Expires"), Is.EqualTo("300"));
        await AnswerAsync(peer, refresh, "refresh-1", 401, "WWW-Authenticate: Digest realm=\"lab\", nonce=\"fresh-nonce-1\", qop=\"auth\", algorithm=MD5\r\n");
        var retried = await peer.ReceiveAsync("sip");
        Assert.That(retried.Sip.CSeq!.Value.Number, Is.EqualTo(123105325));
        Assert.That(retried.Sip.GetHeader("Authorization"), Does.Contain("nonce=\"fresh-nonce-1\""));
        await AnswerAsync(peer, retried, "refresh-2", 200, "Contact: <sip:1001@127.0.0.1:5060>;expires=120\r\n");

        await WaitUntil(() => registration.GrantedExpires == TimeSpan.FromSeconds(120));
        Assert.That(registration.State, Is.EqualTo(RegistrationState.Registered));

        // Shutdown removes the binding: REGISTER with Expires: 0.
        var dispose = _client.DisposeAsync().AsTask();
        var remove = await peer.ReceiveAsync("sip");
        Assert.That(remove.Sip.GetHeader("Expires"), Is.EqualTo("0"));
        Assert.That(remove.Sip.GetHeader("Contact"), Is.EqualTo("<sip:1001@127.0.0.1:5060>"));
        await AnswerAsync(peer, remove, "remove-1", 200, string.Empty);
        await dispose.Within();
        Assert.That(registration.State, Is.EqualTo(RegistrationState.Stopped));
    }

    [Test]
    public async Task A_refused_registration_fails_with_the_status_and_is_not_kept()
    {
        var connect = _client.ConnectAsync();
        var peer = await _server.AcceptAuthenticatedAsync();
        await connect.Within();

        var register = _client.RegisterAsync(Extension with { Credentials = null });
        var request = await peer.ReceiveAsync("sip");
        Assert.That(request.Sip.GetHeader("To"), Is.EqualTo("<sip:1001@pbx.example.com>"));
        await AnswerAsync(peer, request, "txn-403", 403, string.Empty);

        var error = (await Assert.ThrowsAsync<SipFailureException>(() => register.Within()))!;
        Assert.That(error.StatusCode, Is.EqualTo(403));
    }

    [Test]
    public async Task A_failed_refresh_is_retried_with_back_off()
    {
        var connect = _client.ConnectAsync();
        var peer = await _server.AcceptAuthenticatedAsync();
        await connect.Within();
        var register = _client.RegisterAsync(Extension with { Credentials = null, RetryMinDelay = TimeSpan.FromSeconds(5) });
        var first = await peer.ReceiveAsync("sip");
        await AnswerAsync(peer, first, "txn-1", 200, "Expires: 60\r\n");
        var registration = await register.Within();

        await RefreshTimerArmed();
        _time.Advance(TimeSpan.FromSeconds(30)); // refresh at half of 60 s
        var refresh = await peer.ReceiveAsync("sip");
        await AnswerAsync(peer, refresh, "txn-2", 503, string.Empty);
        await WaitUntil(() => registration.State == RegistrationState.Unregistered);
        Assert.That(registration.LastError, Is.TypeOf<SipFailureException>());
        await RefreshTimerArmed();

        _time.Advance(TimeSpan.FromSeconds(4));
        await peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(200));
        _time.Advance(TimeSpan.FromSeconds(1));
        var retry = await peer.ReceiveAsync("sip");
        await AnswerAsync(peer, retry, "txn-3", 200, "Expires: 60\r\n");
        await WaitUntil(() => registration.State == RegistrationState.Registered);
    }

    [TestCase(300, 240)]
    [TestCase(3600, 3540)]
    [TestCase(60, 30)]
    [TestCase(20, 10)]
    public void Refresh_comes_a_minute_early_and_never_later_than_halfway(int granted, int refreshAt) =>
        Assert.That(SipRegistration.RefreshDelay(TimeSpan.FromSeconds(granted)), Is.EqualTo(TimeSpan.FromSeconds(refreshAt)));

    [Test]
    public void The_granted_lifetime_comes_from_our_contacts_expires_parameter_before_the_Expires_header()
    {
        var ok = SipMessage.Parse(
            "SIP/2.0 200 OK\r\nContact: <sip:other@10.0.0.9>;expires=3600, <sip:1001@127.0.0.1:5060>;expires=90\r\nExpires: 600\r\n\r\n");
        Assert.That(SipRegistration.GrantedLifetime(ok, "sip:1001@127.0.0.1:5060"), Is.EqualTo(TimeSpan.FromSeconds(90)));
        Assert.That(SipRegistration.GrantedLifetime(ok, "sip:1001@192.0.2.1:5060"), Is.EqualTo(TimeSpan.FromSeconds(600)));
    }

    /// <summary>Echoes the request as drachtio-server does, then sends a final response built from it.</summary>
    internal static async Task AnswerAsync(FakeDrachtioPeer peer, ClientFrame request, string transactionId, int status, string extraHeaders)
    {
        var sip = request.Sip;
        var tag = SipAddress.GetTag(sip.From) ?? "98Up7ZN2465SQ";
        var callId = sip.CallId ?? "e871dba0-60c7-1240-da9f-925dacc98fbd";
        var cseq = sip.CSeq ?? new SipCSeq(123105322, "REGISTER");
        var sent =
            $"REGISTER {sip.RequestUri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{transactionId}\r\nMax-Forwards: 70\r\n" +
            $"From: <sip:1001@pbx.example.com>;tag={tag}\r\nTo: <sip:1001@pbx.example.com>\r\nCall-ID: {callId}\r\nCSeq: {cseq}\r\n" +
            $"Contact: {sip.GetHeader("Contact")}\r\nExpires: {sip.GetHeader("Expires")}\r\nContent-Length: 0\r\n\r\n";
        await peer.AcknowledgeAsync(request, transactionId, sent);
        var reason = status switch { 200 => "OK", 401 => "Unauthorized", 403 => "Forbidden", _ => "Service Unavailable" };
        var response =
            $"SIP/2.0 {status} {reason}\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bK{transactionId}\r\n" +
            $"From: <sip:1001@pbx.example.com>;tag={tag}\r\nTo: <sip:1001@pbx.example.com>;tag=962SIPpTag011\r\nCall-ID: {callId}\r\nCSeq: {cseq}\r\n" +
            $"{extraHeaders}Content-Length: 0\r\n\r\n";
        await peer.SendAsync($"{FakeDrachtioPeer.NewId()}|sip|network|300|udp|127.0.0.1|5087|12:00:00.000000|{transactionId}||\r\n{response}");
    }

    /// <summary>
    /// The refresh loop runs on its own task: wait until it has armed its timer (next to the client's hour-long
    /// ping timer) before moving the clock, or the advance could happen before the timer exists.
    /// </summary>
    private Task RefreshTimerArmed() => WaitUntil(() => _time.ArmedTimers >= 2);

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeouts.Step;
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "condition not reached in time");
            await Task.Delay(10);
        }
    }
}
