using Voice.Control.Phone;

namespace Voice.Control.Tests.Phone;

public class DialPlanTests
{
    private static readonly DialPlan ThreeCx = new() { Host = "pbx.example.com" };

    [TestCase("+15551234567", "sip:95551234567@pbx.example.com")] // home country: 9 + national number
    [TestCase("101", "sip:101@pbx.example.com")] // extensions as written
    [TestCase("+442079460000", "sip:9011442079460000@pbx.example.com")] // abroad: 9 + 011 + full number
    public void The_3CX_rule_dials_an_outside_line_and_the_national_number(string number, string uri) =>
        Assert.That(ThreeCx.ToSipUri(PhoneNumber.Parse(number)), Is.EqualTo(uri));

    [Test]
    public void The_3CX_rule_follows_a_European_home_country()
    {
        var plan = ThreeCx with { HomeCountryCode = "49", OutsideLinePrefix = "0", NationalPrefix = "0", InternationalPrefix = "00" };
        Assert.That(plan.ToSipUri(PhoneNumber.Parse("+49301234567")), Is.EqualTo("sip:00301234567@pbx.example.com"));
        Assert.That(plan.ToSipUri(PhoneNumber.Parse("+15551234567")), Is.EqualTo("sip:00015551234567@pbx.example.com"));
    }

    [TestCase("+15551234567", null, "sip:+15551234567@trunk.example.net:5061")]
    [TestCase("+442079460000", "tls", "sip:+442079460000@trunk.example.net:5061;transport=tls")]
    [TestCase("2001", "tcp", "sip:2001@trunk.example.net:5061;transport=tcp")]
    public void The_E164_rule_sends_the_number_as_it_is(string number, string? transport, string uri)
    {
        var plan = new DialPlan { Rule = DialRule.E164, Host = "trunk.example.net:5061", Transport = transport };
        Assert.That(plan.ToSipUri(PhoneNumber.Parse(number)), Is.EqualTo(uri));
    }

    [TestCase("pbx example.com")]
    [TestCase("pbx@example.com")]
    [TestCase("")]
    public void A_bad_host_is_refused(string host) =>
        Assert.Throws<ArgumentException>(() => new DialPlan { Host = host }.Validate());

    [Test]
    public void Other_bad_settings_are_refused_by_name()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new DialPlan { Transport = "sctp" }.Validate())!.ParamName, Is.EqualTo("Transport"));
        Assert.That(Assert.Throws<ArgumentException>(() => new DialPlan { OutsideLinePrefix = "9#" }.Validate())!.ParamName, Is.EqualTo("OutsideLinePrefix"));
        Assert.That(Assert.Throws<ArgumentException>(() => new DialPlan { HomeCountryCode = "28" }.Validate())!.ParamName, Is.EqualTo("HomeCountryCode"));
        Assert.DoesNotThrow(() => new DialPlan { Host = "[2001:db8::1]:5060" }.Validate());
    }
}
