using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Voice.Control;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;
using Voice.Control.Phone;
using Voice.Control.Tts;
using Voice.TestPhone;

namespace Voice.Integration.Tests;

/// <summary>
/// VoiceBridge's library wired to the real servers as an application would wire it (<c>AddVoiceControl</c>), with
/// the test phone as the trunk, an Event Socket client of the test's own to count FreeSWITCH's channels, and every
/// state change of every call kept.
/// </summary>
public sealed class Lab : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly List<CallStateChange> _changes = [];

    private Lab(LabSettings settings, ServiceProvider services, TestPhone.TestPhone phone, EslClient inspector)
    {
        Settings = settings;
        _services = services;
        Phone = phone;
        Inspector = inspector;
        Calls.StateChanged += (_, change) =>
        {
            lock (_changes)
            {
                _changes.Add(change);
            }
        };
    }

    public static ILoggerFactory Logs { get; } = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    }));

    public LabSettings Settings { get; }

    public TestPhone.TestPhone Phone { get; }

    public IOutboundCalls Calls => _services.GetRequiredService<IOutboundCalls>();

    public DrachtioClient Drachtio => _services.GetRequiredService<DrachtioClient>();

    /// <summary>The orchestrator itself, for calls that come in (<see cref="CallManager.CallArrived"/>).</summary>
    public CallManager Manager => _services.GetRequiredService<CallManager>();

    /// <summary>Where drachtio-server takes SIP over UDP: where callers send their INVITEs.</summary>
    public IPEndPoint SipEndPoint => IPEndPoint.Parse(Drachtio.Server!.GetSipHostPort("udp") ?? throw new InvalidOperationException("drachtio-server listens on no UDP address"));

    public MediaServerPool Media => _services.GetRequiredService<MediaServerPool>();

    /// <summary>The test's own Event Socket connection, for <c>show channels count</c>.</summary>
    public EslClient Inspector { get; }

    /// <summary>The outbound Event Socket listener (where a dialplan's <c>socket</c> connects).</summary>
    public MediaSessionBroker Broker => _services.GetRequiredService<MediaSessionBroker>();

    /// <summary>Starts the library on <paramref name="profile"/> (the stock profile unless given) and waits until calls can be placed.</summary>
    public static async Task<Lab> StartAsync((string Name, string SipUri)? profile = null, Func<CallOptions, CallOptions>? calls = null, bool srtp = false)
    {
        var settings = LabSettings.Require();
        var (name, uri) = profile ?? settings.Stock;
        var phone = TestPhone.TestPhone.Start(settings.PhoneAddress, logger: Logs.CreateLogger("phone"));
        var eventSocket = new EslClientOptions { Host = settings.FreeSwitchHost, Port = settings.FreeSwitchPort, Password = settings.FreeSwitchPassword };
        var callOptions = new CallOptions
        {
            DialPlan = new DialPlan { Rule = DialRule.E164, Host = phone.EndPoint.ToString() },
            DefaultCallerId = "+15550009999",
            RepeatPause = TimeSpan.FromMilliseconds(300),
        };
        var options = new VoiceControlOptions
        {
            Calls = calls?.Invoke(callOptions) ?? callOptions,
            Drachtio = new DrachtioClientOptions { Host = settings.DrachtioHost, Port = settings.DrachtioPort, Secret = settings.DrachtioSecret },
            MediaServers = [new MediaServerOptions { Name = name, EventSocket = eventSocket, SipUri = uri, Profile = name, Srtp = srtp }],
            EventSocketListener = new EslOutboundOptions { ListenAddress = settings.ListenerAddress, Port = FreePort(settings.ListenerAddress) },
            SpeechCache = new SpeechCacheOptions { Directory = settings.SpeechDirectory },
        };
        var services = new ServiceCollection().AddSingleton(Logs).AddLogging().AddVoiceControl(options).BuildServiceProvider();
        var inspector = new EslClient(eventSocket, Logs.CreateLogger<EslClient>());
        var lab = new Lab(settings, services, phone, inspector);
        try
        {
            await inspector.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(20));
            await services.GetRequiredService<VoiceControlRuntime>().StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
            await lab.WaitUntilReadyAsync();
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
        return lab;
    }

    public IReadOnlyList<CallStateChange> Changes(string callId)
    {
        lock (_changes)
        {
            return _changes.Where(c => c.CallId == callId).ToList();
        }
    }

    /// <summary>Places a call to a number the phone answers as <paramref name="behaviour"/> says, and returns both ends.</summary>
    public async Task<(CallSnapshot Call, PhoneCall Phone)> DialAsync(string number, PhoneBehaviour behaviour, string message = Messages.Alert, int repeat = 1)
    {
        Phone.When(number, behaviour);
        var call = Calls.Place(new CallRequest { To = number, Message = message, Repeat = repeat, RingTimeout = TimeSpan.FromSeconds(8) });
        var rung = await Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
        return (call, rung);
    }

    /// <summary>Places <paramref name="request"/> to a number the phone answers as <paramref name="behaviour"/> says, and returns both ends.</summary>
    public async Task<(CallSnapshot Call, PhoneCall Phone)> PlaceAsync(CallRequest request, PhoneBehaviour behaviour)
    {
        Phone.When(request.To, behaviour);
        var call = Calls.Place(request);
        var rung = await Phone.NextCallAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));
        return (call, rung);
    }

    /// <summary>Waits (bounded) for the call to end and returns its final snapshot.</summary>
    public async Task<CallSnapshot> EndedAsync(string callId, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(40));
        while (Calls.Get(callId) is { } call && !CallStateMachine.IsFinal(call.State))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"call {callId} did not end in time: {call.State}");
            }
            await Task.Delay(20);
        }
        return Calls.Get(callId)!;
    }

    /// <summary>Waits until the call reaches <paramref name="state"/>.</summary>
    public async Task ReachesAsync(string callId, CallState state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Calls.Get(callId)?.State != state)
        {
            if (DateTime.UtcNow > deadline || Calls.Get(callId) is { } c && CallStateMachine.IsFinal(c.State))
            {
                Assert.Fail($"call {callId} never reached {state}; it is {Calls.Get(callId)?.State}");
            }
            await Task.Delay(10);
        }
    }

    /// <summary>FreeSWITCH's own count of its channels (<c>show channels count</c>).</summary>
    public async Task<int> ChannelsAsync()
    {
        var reply = await Inspector.ApiAsync("show channels count");
        return int.Parse(reply.Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Nothing left behind: FreeSWITCH's channel count falls to 0 (bounded wait).</summary>
    public async Task AssertNoChannelsLeftAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        int count;
        while ((count = await ChannelsAsync()) != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.That(count, Is.Zero, "FreeSWITCH channels left after the call");
        Assert.That(Media.Servers.Sum(s => s.Endpoints.Count), Is.Zero, "endpoints left in VoiceBridge");
        Assert.That(Drachtio.Dialogs, Is.Empty, "dialogs left in VoiceBridge");
    }

    /// <summary>Until calls can be placed again (after a restart).</summary>
    public async Task WaitUntilReadyAsync(TimeSpan? within = null)
    {
        var backend = _services.GetRequiredService<ICallBackend>();
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (backend.NotReadyReason is { } reason)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("VoiceBridge did not become ready: " + reason);
            }
            await Task.Delay(50);
        }
    }

    private static int FreePort(IPAddress address)
    {
        using var probe = new TcpListener(address, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await Inspector.DisposeAsync();
        await Phone.DisposeAsync();
    }
}

/// <summary>What the calls say.</summary>
public static class Messages
{
    public const string Alert = "This is VoiceBridge. The disk on server web one is ninety five percent full. Please have a look.";
}
