using Microsoft.Extensions.Configuration;
using Voice.Control.Scripts;
using Voice.Host.Configuration;

namespace Voice.Host.Tests;

/// <summary>The settings for SIP calls to VoiceBridge: the inbound routes and the registration with the PBX.</summary>
public class SipSettingsTests
{
    private static Voice.Control.VoiceControlOptions Read(Dictionary<string, string?> settings) =>
        VoiceBridgeConfiguration.From(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), Path.GetTempPath());

    private static readonly Dictionary<string, string?> ThreeCx = new()
    {
        ["DRACHTIO_HOST"] = "127.0.0.1",
        ["DRACHTIO_SECRET"] = "cymru",
        ["SIP_TRUNK_HOST"] = "pbx.example.com",
        ["SIP_AUTH_USERNAME"] = "Xk29fQ",
        ["SIP_AUTH_PASSWORD"] = "secret",
    };

    [Test]
    public void Routes_from_the_environment_keep_their_order_and_the_3CX_extension_is_registered_with_its_own_number()
    {
        var options = Read(new(ThreeCx) { ["INBOUND_ROUTES"] = "4000=alerts, +1555*=support, *=default", ["SIP_REGISTER_USER"] = "101" });
        Assert.That(options.Calls.InboundRoutes, Is.EqualTo(new[] { new InboundRoute("4000", "alerts"), new InboundRoute("+1555*", "support"), new InboundRoute("*", "default") }));
        var registration = options.Registration!;
        Assert.That((registration.Registrar, registration.User, registration.AddressOfRecord), Is.EqualTo(("sip:pbx.example.com", "101", "sip:101@pbx.example.com")));
        Assert.That(registration.Credentials!.Username, Is.EqualTo("Xk29fQ"), "3CX's authentication ID answers the challenge");
    }

    [Test]
    public void Routes_from_appsettings_are_a_list_in_order()
    {
        var options = Read(new(ThreeCx) { ["Inbound:Routes:0"] = "4000=alerts", ["Inbound:Routes:1"] = "*=default" });
        Assert.That(options.Calls.InboundRoutes.Select(r => r.Pattern), Is.EqualTo(new[] { "4000", "*" }));
    }

    [Test]
    public void Without_routes_nothing_is_registered_unless_asked_and_without_credentials_there_is_nothing_to_register_with()
    {
        Assert.That(Read(ThreeCx).Registration, Is.Null, "credentials for placing calls alone do not register");
        Assert.That(Read(new(ThreeCx) { ["SIP_REGISTER"] = "true" }).Registration!.User, Is.EqualTo("Xk29fQ"));
        Assert.That(Read(new(ThreeCx) { ["INBOUND_ROUTES"] = "*=default", ["SIP_REGISTER"] = "false" }).Registration, Is.Null);
        var simulated = Read(new() { ["INBOUND_ROUTES"] = "*=default", ["SIP_AUTH_USERNAME"] = "101", ["SIP_AUTH_PASSWORD"] = "x" });
        Assert.That(simulated.Registration, Is.Null, "no drachtio-server, no registration");
        Assert.That(() => Read(new(ThreeCx) { ["SIP_AUTH_USERNAME"] = null, ["SIP_REGISTER"] = "true" }), Throws.InvalidOperationException.With.Message.Contains("SIP_REGISTER_USER"));
    }

    [Test]
    public void Several_media_servers_come_from_FREESWITCH_HOSTS_with_the_shared_password_and_a_SIP_URI_each()
    {
        var options = Read(new(ThreeCx) { ["FREESWITCH_HOSTS"] = "fs1.example.com:8021, 10.0.0.7:9021", ["FREESWITCH_SECRET"] = "s3cret" });
        Assert.That(options.MediaServers.Select(m => (m.Name, m.EventSocket.Host, m.EventSocket.Port, m.EventSocket.Password, m.SipUri)), Is.EqualTo(new[]
        {
            ("fs1.example.com", "fs1.example.com", 8021, "s3cret", "sip:drachtio@fs1.example.com:5090"),
            ("10.0.0.7:9021", "10.0.0.7", 9021, "s3cret", "sip:drachtio@10.0.0.7:5090"),
        }));
        var listed = Read(new(ThreeCx) { ["FreeSwitch:Hosts:0"] = "fs-a", ["FreeSwitch:Hosts:1"] = "fs-b", ["FreeSwitch:SipUri"] = "sip:mrf@{host}:5092" });
        Assert.That(listed.MediaServers.Select(m => m.SipUri), Is.EqualTo(new[] { "sip:mrf@fs-a:5092", "sip:mrf@fs-b:5092" }));
        Assert.That(Read(ThreeCx).MediaServers.Select(m => m.EventSocket.Host), Is.EqualTo(new[] { "127.0.0.1" }), "one FREESWITCH_HOST without the list");

        Assert.That(() => Read(new(ThreeCx) { ["FREESWITCH_HOSTS"] = "fs1:80x21" }), Throws.InvalidOperationException.With.Message.Contains("'fs1:80x21' must be host or host:port"));
        Assert.That(() => Read(new(ThreeCx) { ["FREESWITCH_HOSTS"] = "fs1,fs1:8021" }), Throws.InvalidOperationException.With.Message.Contains("names fs1:8021 twice"));
        Assert.That(() => Read(new(ThreeCx) { ["FREESWITCH_HOSTS"] = "fs1,fs2", ["FreeSwitch:SipUri"] = "sip:drachtio@fs1:5090" }),
            Throws.InvalidOperationException.With.Message.Contains("must contain {host}"));
    }
}
