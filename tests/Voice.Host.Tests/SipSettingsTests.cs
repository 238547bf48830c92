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
}
