using System.Text.RegularExpressions;
using System.Xml.Linq;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;

namespace Voice.Control.Tests.Media;

/// <summary>fs-config/ agrees with what the library sends and expects, so a FreeSWITCH set up from it works.</summary>
public class FsConfigTests
{
    private static XDocument Load(string path) => XDocument.Load(Path.Combine(AppContext.BaseDirectory, "fs-config", path));

    private static string Param(XDocument doc, string name) =>
        doc.Descendants("param").Single(p => (string?)p.Attribute("name") == name).Attribute("value")!.Value;

    [Test]
    public void The_mrf_profile_is_where_endpoint_INVITEs_go_by_default()
    {
        var profile = Load("sip_profiles/mrf.xml");
        var defaults = new MediaServerOptions();

        Assert.That(profile.Root!.Attribute("name")!.Value, Is.EqualTo(defaults.Profile));
        Assert.That(Param(profile, "sip-port"), Is.EqualTo(new Uri(defaults.SipUri.Replace("sip:", "sip://", StringComparison.Ordinal)).Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(Param(profile, "inbound-codec-prefs").Split(','), Is.EqualTo(defaults.Codecs));
        Assert.That(Param(profile, "rfc2833-pt"), Is.EqualTo("101"));
        var acls = Load("autoload_configs/acl.conf.xml").Descendants("list").Select(l => l.Attribute("name")!.Value).ToList();
        Assert.That(acls, Does.Contain(Param(profile, "apply-inbound-acl")));
    }

    [Test]
    public void The_example_hand_overs_use_the_variables_VoiceBridge_reads_and_a_full_socket()
    {
        var extensions = Load("dialplan/voicebridge.xml").Descendants("extension").ToList();
        var sets = extensions.SelectMany(e => e.Descendants("action"))
            .Where(a => a.Attribute("application")!.Value == "set")
            .Select(a => a.Attribute("data")!.Value.Split('=')[0]).ToList();
        Assert.That(sets, Is.SubsetOf(new[]
        {
            Backends.DialplanLeg.AppVariable, Backends.DialplanLeg.SayVariable, Backends.DialplanLeg.GatherVariable, Backends.DialplanLeg.OnEndVariable,
        }), "only variables VoiceBridge reads");
        var sockets = extensions.SelectMany(e => e.Descendants("action")).Where(a => a.Attribute("application")!.Value == "socket").Select(a => a.Attribute("data")!.Value).ToList();
        Assert.That(sockets, Has.Count.EqualTo(2));
        Assert.That(sockets, Has.All.EndsWith(" async full"), "without full, FreeSWITCH refuses VoiceBridge's commands (lab)");
        foreach (var extension in extensions.Where(e => e.Descendants("action").Any(a => a.Attribute("application")!.Value == "socket")))
        {
            Assert.That(extension.Descendants("action").Last().Attribute("application")!.Value, Is.EqualTo("hangup"), "never a call left open after the socket");
        }
    }

    [Test]
    public void The_dialplan_hands_our_endpoint_INVITEs_to_the_outbound_listener()
    {
        var profile = Load("sip_profiles/mrf.xml");
        var context = Load("dialplan/mrf.xml").Descendants("context").Single();
        Assert.That(context.Attribute("name")!.Value, Is.EqualTo(Param(profile, "context")));

        var condition = context.Descendants("condition").Single();
        Assert.That(condition.Attribute("field")!.Value, Is.EqualTo("${sip_user_agent}"));
        Assert.That(Regex.IsMatch(MediaSessionBroker.UserAgentPrefix + Guid.NewGuid(), condition.Attribute("expression")!.Value), Is.True);

        var actions = condition.Elements("action").Select(a => (a.Attribute("application")!.Value, (string?)a.Attribute("data"))).ToList();
        Assert.That(actions, Does.Contain(("set", "rtp_secure_media=false")), "plain RTP offers unless SRTP is wanted");
        var answer = actions.IndexOf(("answer", null));
        var socket = actions.IndexOf(("socket", "${sip_h_X-esl-outbound} async full"));
        Assert.That(answer, Is.GreaterThanOrEqualTo(0));
        Assert.That(socket, Is.GreaterThan(answer), "the channel is answered before it is handed over");
        Assert.That(actions[^1].Item1, Is.EqualTo("hangup"), "a channel the listener let go of is hung up");
    }

    [Test]
    public void The_Event_Socket_matches_the_client_defaults_and_admits_only_listed_hosts()
    {
        var socket = Load("autoload_configs/event_socket.conf.xml");
        var defaults = new EslClientOptions();

        Assert.That(Param(socket, "listen-port"), Is.EqualTo(defaults.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(Param(socket, "password"), Is.EqualTo(defaults.Password));
        Assert.That(Param(socket, "listen-ip"), Is.EqualTo("127.0.0.1"), "never on every address by default");
        var acl = Load("autoload_configs/acl.conf.xml").Descendants("list").Single(l => l.Attribute("name")!.Value == Param(socket, "apply-inbound-acl"));
        Assert.That(acl.Attribute("default")!.Value, Is.EqualTo("deny"));
    }
}
