using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Scripts;
using Voice.Control.Tests.Drachtio;
using Voice.Control.Tests.Media;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Calls;

/// <summary>What the runtime opens for calls that come in: INVITE routing when routes are configured, and the PBX registration.</summary>
public class RuntimeInboundTests
{
    [Test]
    public async Task With_routes_and_a_registration_the_runtime_asks_for_INVITEs_and_registers_the_extension()
    {
        await using var drachtio = FakeDrachtioServer.Start();
        var services = new ServiceCollection().AddSingleton(TestLog.Factory).AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddVoiceControl(new VoiceControlOptions
        {
            Drachtio = drachtio.ClientOptions(),
            // A media server nobody answers for: the runtime keeps trying it in the background.
            MediaServers = [MediaRig.DefaultOptions with { EventSocket = MediaRig.EventSocketOptions(1) }],
            EventSocketListener = new Voice.Control.FreeSwitch.EslOutboundOptions { Port = 0 },
            Calls = new CallOptions
            {
                Applications = new Dictionary<string, CallApplication> { ["alerts"] = new() { Script = CallScript.Say("Hello.") } },
                InboundRoutes = [new InboundRoute("*", "alerts")],
            },
            Registration = new RegistrationOptions { Registrar = "sip:pbx.example.com", User = "1001", Proxy = "sip:127.0.0.1:5087" },
        });
        await using var provider = services.BuildServiceProvider();
        var runtime = provider.GetRequiredService<VoiceControlRuntime>();
        _ = runtime.StartAsync();

        var peer = await drachtio.AcceptAuthenticatedAsync();
        var seen = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var frame = await peer.ReceiveAsync();
            if (frame.Type == "route")
            {
                Assert.That(frame.Fields[2], Is.EqualTo("invite"));
                await peer.SendAsync($"{FakeDrachtioPeer.NewId()}|response|{frame.Id}|OK");
                seen.Add("route|invite");
            }
            else
            {
                Assert.That((frame.Type, frame.Sip.Method, frame.Sip.GetHeader("To")), Is.EqualTo(("sip", "REGISTER", "<sip:1001@pbx.example.com>")));
                await SipRegistrationTests.AnswerAsync(peer, frame, "reg-1", 200, "Contact: <sip:1001@127.0.0.1:5060>;expires=300\r\n");
                seen.Add("REGISTER");
            }
        }
        Assert.That(seen, Is.EquivalentTo(new[] { "route|invite", "REGISTER" }));
        await Poll.UntilAsync(() => runtime.Registration?.State == RegistrationState.Registered);
        Assert.That(runtime.Registration!.GrantedExpires, Is.EqualTo(TimeSpan.FromSeconds(300)));
        await runtime.DisposeAsync();
    }

    [Test]
    public void A_route_to_an_application_that_does_not_exist_is_refused_at_start_with_its_name()
    {
        var refused = Assert.Throws<ArgumentException>(() => new CallOptions
        {
            InboundRoutes = [new InboundRoute("4000", "sales")],
        }.Validate());
        Assert.That(refused!.Message, Does.Contain("'sales', which is not configured"));
        Assert.Throws<FormatException>(() => InboundRoute.Parse("4000"));
        Assert.That(InboundRoute.Parse(" +1555* = support "), Is.EqualTo(new InboundRoute("+1555*", "support")));
    }

    [Test]
    public void Routes_match_exact_numbers_prefixes_and_anything_first_match_first()
    {
        IReadOnlyList<InboundRoute> routes = [new("4000", "alerts"), new("+1555*", "support"), new("*", "default")];
        Assert.That(InboundRoute.Find(routes, "4000", null), Is.EqualTo("alerts"));
        Assert.That(InboundRoute.Find(routes, "+15551234567", "4000"), Is.EqualTo("alerts"), "the Request-URI's user or the To's");
        Assert.That(InboundRoute.Find(routes, "+15551234567"), Is.EqualTo("support"));
        Assert.That(InboundRoute.Find(routes, "101"), Is.EqualTo("default"));
        Assert.That(InboundRoute.Find([.. routes.Take(2)], "101"), Is.Null);
    }
}
