using Voice.Control.Sip;

namespace Voice.Control.Tests.Sip;

public class SipMessageTests
{
    // The 200 OK of the call-ok capture, with SIPp's "Content-Length:   129" spacing.
    private const string Ok =
        "SIP/2.0 200 OK\r\n" +
        "Via: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKjt62r8NgjD64N\r\n" +
        "From: <sip:127.0.0.1:5060>;tag=jSpvyHjH7S5BD\r\n" +
        "To: <sip:15551234567@127.0.0.1:5080>;tag=24259SIPpTag011\r\n" +
        "Call-ID: f690ba42-60c5-1240-da9f-925dacc98fbd\r\n" +
        "CSeq: 123104905 INVITE\r\n" +
        "Contact: <sip:127.0.0.1:5080;transport=UDP>\r\n" +
        "Content-Type: application/sdp\r\n" +
        "Content-Length:   129\r\n" +
        "\r\n" +
        "v=0\r\nm=audio 6000 RTP/AVP 0\r\n";

    [Test]
    public void A_response_parses_into_status_headers_and_sdp()
    {
        var message = SipMessage.Parse(Ok);

        Assert.That(message.IsRequest, Is.False);
        Assert.That(message.StatusCode, Is.EqualTo(200));
        Assert.That(message.ReasonPhrase, Is.EqualTo("OK"));
        Assert.That(message.CallId, Is.EqualTo("f690ba42-60c5-1240-da9f-925dacc98fbd"));
        Assert.That(message.CSeq, Is.EqualTo(new SipCSeq(123104905, "INVITE")));
        Assert.That(message.GetHeader("content-length"), Is.EqualTo("129"));
        Assert.That(message.Sdp, Is.EqualTo("v=0\r\nm=audio 6000 RTP/AVP 0\r\n"));
        Assert.That(SipAddress.GetTag(message.To), Is.EqualTo("24259SIPpTag011"));
        Assert.That(SipAddress.GetUri(message.Contact!), Is.EqualTo("sip:127.0.0.1:5080;transport=UDP"));
    }

    [Test]
    public void A_request_with_compact_and_folded_headers_parses()
    {
        var message = SipMessage.Parse(
            "BYE sip:127.0.0.1:5060 SIP/2.0\r\n" +
            "i: abc@host\r\n" +
            "f:  \"Bob\" <sip:bob@b.example>;tag=1\r\n" +
            "t: <sip:alice@a.example>;tag=2\r\n" +
            "Subject: first line\r\n" +
            "  second line\r\n" +
            "\r\n");

        Assert.That(message.Method, Is.EqualTo("BYE"));
        Assert.That(message.RequestUri, Is.EqualTo("sip:127.0.0.1:5060"));
        Assert.That(message.CallId, Is.EqualTo("abc@host"));
        Assert.That(message.From, Is.EqualTo("\"Bob\" <sip:bob@b.example>;tag=1"));
        Assert.That(message.GetHeader("Subject"), Is.EqualTo("first line second line"));
        Assert.That(message.Body, Is.Empty);
        Assert.That(message.Sdp, Is.Null);
    }

    [Test]
    public void Header_names_keep_their_spelling_from_the_wire_message_after_message()
    {
        // Names are shared between messages (the same few dozen on every one), compared exactly as written.
        var spellings = new[] { "Call-ID", "CALL-ID", "call-id", "i", "X-Custom ", "x-custom" };
        foreach (var _ in Enumerable.Range(0, 2))
        {
            foreach (var name in spellings)
            {
                var message = SipMessage.Parse($"BYE sip:127.0.0.1 SIP/2.0\r\n{name}: abc@host\r\n\r\n");
                Assert.That(message.Headers.Single().Name, Is.EqualTo(name.TrimEnd()));
                Assert.That(message.Headers.Single().Value, Is.EqualTo("abc@host"));
            }
        }
        Assert.That(SipMessage.Parse("BYE sip:a SIP/2.0\r\nCALL-ID: 1\r\n\r\n").CallId, Is.EqualTo("1"), "and still match their header case-insensitively");
    }

    [TestCase("HELLO", "not a SIP request or status line")]
    [TestCase("SIP/2.0 2000 OK\r\n\r\n", "no valid status code")]
    [TestCase("INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", "without a name")]
    [TestCase("INVITE sip:a@b SIP/2.0\r\n continuation\r\n\r\n", "continuation")]
    public void Malformed_messages_are_rejected_with_the_reason(string text, string reason)
    {
        Assert.That(SipMessage.TryParse(text, out _, out var error), Is.False);
        Assert.That(error, Does.Contain(reason));
    }

    [Test]
    public void Tags_come_from_header_parameters_not_uri_parameters()
    {
        Assert.That(SipAddress.GetTag("<sip:a@b;tag=uri>;tag=header"), Is.EqualTo("header"));
        Assert.That(SipAddress.GetTag("sip:a@b;tag=plain"), Is.EqualTo("plain"));
        Assert.That(SipAddress.GetTag("\"x<y\" <sip:a@b>"), Is.Null);
        Assert.That(SipAddress.GetUri("\"A <B>\" <sip:a@b;transport=tcp>;tag=1"), Is.EqualTo("sip:a@b;transport=tcp"));
    }

    [Test]
    public void Display_names_are_quoted_and_escaped_and_line_breaks_refused()
    {
        Assert.That(SipAddress.Format("Server \"Alerts\"", "sip:+15551234567@pbx"), Is.EqualTo("\"Server \\\"Alerts\\\"\" <sip:+15551234567@pbx>"));
        Assert.That(SipAddress.Format(null, "sip:1@pbx"), Is.EqualTo("<sip:1@pbx>"));
        Assert.Throws<ArgumentException>(() => SipAddress.Format("evil\r\nX-Injected: 1", "sip:1@pbx"));
    }

    [TestCase("sip:15551234567@127.0.0.1:5080", "sip", "15551234567", "127.0.0.1", 5080, true)]
    [TestCase("sips:+4930123@pbx.example.com;transport=tls", "sips", "+4930123", "pbx.example.com", null, false)]
    [TestCase("sip:[2001:db8::1]:5060", "sip", null, "[2001:db8::1]", 5060, true)]
    [TestCase("sip:pbx.example.com", "sip", null, "pbx.example.com", null, false)]
    public void Sip_uris_split_into_their_parts(string text, string scheme, string? user, string host, int? port, bool ipLiteral)
    {
        var uri = SipUri.Parse(text);
        Assert.That((uri.Scheme, uri.User, uri.Host, uri.Port, uri.HostIsIpLiteral), Is.EqualTo((scheme, user, host, port, ipLiteral)));
        Assert.That(uri.ToString(), Is.EqualTo(text));
    }

    [TestCase("tel:+15551234567")]
    [TestCase("sip:")]
    [TestCase("sip:host:99999")]
    [TestCase("http://example.com")]
    public void Non_sip_uris_are_refused(string text) => Assert.That(SipUri.TryParse(text, out _), Is.False);

    [TestCase("X-Call-Tag", "alert-42")]
    [TestCase("User-Agent", "drachtio-fsmrf:d52f5986-e822-4e12-b993-5720c38a1259")]
    public void Custom_headers_that_are_tokens_with_clean_values_pass(string name, string value) =>
        Assert.DoesNotThrow(() => SipHeaderNames.ValidateCustomHeader(name, value));

    [TestCase("X-Evil", "a\r\nVia: SIP/2.0/UDP attacker")]
    [TestCase("X-Evil", "a\nb")]
    [TestCase("X-Evil", "nul\0")]
    [TestCase("X Bad", "v")]
    [TestCase("X-Bad:", "v")]
    [TestCase("Call-ID", "mine")]
    [TestCase("i", "compact Call-ID")]
    [TestCase("Via", "SIP/2.0/UDP x")]
    [TestCase("Content-Length", "0")]
    public void Custom_headers_that_could_break_the_message_are_refused(string name, string value) =>
        Assert.Throws<ArgumentException>(() => SipHeaderNames.ValidateCustomHeader(name, value));
}
