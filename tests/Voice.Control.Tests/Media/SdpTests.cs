using Voice.Control.Media;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Media;

/// <summary>The SDP rewrites, on FreeSWITCH's captured offer and on the offer our fs-config profile makes.</summary>
public class SdpTests
{
    private static readonly string[] PcmuPcma = ["PCMU", "PCMA"];

    /// <summary>FreeSWITCH's answer-with-offer to the endpoint INVITE in the mrf-endpoint-play capture (SAVP + AVP).</summary>
    private static string CapturedOffer() => Captures.Flow("mrf-endpoint-play")
        .First(f => f.From == Side.Server && f.Message.Contains("RTP/SAVP", StringComparison.Ordinal) && f.Message.Contains("\r\nSIP/2.0 200 OK", StringComparison.Ordinal)).Sip.Body;

    // An offer from a profile with rtp_secure_media off, as fs-config/sip_profiles/mrf.xml sets it.
    private const string PlainOffer =
        "v=0\r\no=FreeSWITCH 1 2 IN IP4 10.0.0.5\r\ns=FreeSWITCH\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n" +
        "m=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n";

    [Test]
    public void The_phone_is_offered_plain_RTP_with_the_configured_codecs_from_a_SAVP_and_AVP_offer()
    {
        var sdp = Sdp.OfferForPhone(CapturedOffer(), PcmuPcma, srtp: false);

        Assert.That(sdp.Split("\r\n"), Is.EqualTo(new[]
        {
            "v=0",
            "o=Lab-Mediaserver 1795277282 1795277283 IN IP4 192.0.2.2",
            "s=Lab-Mediaserver",
            "c=IN IP4 127.0.0.1",
            "t=0 0",
            "m=audio 40966 RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "",
        }));
    }

    [Test]
    public void With_SRTP_configured_the_phone_gets_the_SAVP_stream_and_its_keys()
    {
        var sdp = Sdp.OfferForPhone(CapturedOffer(), ["PCMA"], srtp: true);

        Assert.That(MediaRig.Lines(sdp, "m="), Is.EqualTo(new[] { "m=audio 40966 RTP/SAVP 8 101" }));
        Assert.That(MediaRig.Lines(sdp, "a=crypto:"), Has.Count.EqualTo(11));
        Assert.That(MediaRig.Lines(sdp, "a=rtpmap:"), Is.EqualTo(new[] { "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000" }));
    }

    [Test]
    public void A_plain_offer_passes_through_with_its_codecs_filtered()
    {
        Assert.That(Sdp.OfferForPhone(PlainOffer, PcmuPcma, srtp: false), Is.EqualTo(PlainOffer));
        Assert.That(MediaRig.Lines(Sdp.OfferForPhone(PlainOffer, ["pcma"], srtp: false), "m="), Is.EqualTo(new[] { "m=audio 20000 RTP/AVP 8 101" }));
    }

    [Test]
    public void An_offer_the_phone_could_not_use_is_refused_with_the_reason()
    {
        var savpOnly = PlainOffer.Replace("RTP/AVP", "RTP/SAVP", StringComparison.Ordinal);
        var noProfile = Assert.Throws<MediaException>(() => Sdp.OfferForPhone(savpOnly, PcmuPcma, srtp: false));
        Assert.That(noProfile!.Message, Does.Contain("no RTP/AVP audio stream").And.Contains("rtp_secure_media"));

        var noCodec = Assert.Throws<MediaException>(() => Sdp.OfferForPhone(PlainOffer, ["G722"], srtp: false));
        Assert.That(noCodec!.Message, Does.Contain("none of the configured codecs (G722)").And.Contains("PCMU/8000"));
    }

    [Test]
    public void The_answer_in_the_ACK_is_the_offer_made_receive_only()
    {
        var offer = CapturedOffer();
        var answer = Sdp.RecvOnlyAnswer(offer);

        Assert.That(answer.Split("\r\n")[..6], Is.EqualTo(new[] { "v=0", "o=Lab-Mediaserver 1795277282 1795277283 IN IP4 192.0.2.2", "s=Lab-Mediaserver", "c=IN IP4 127.0.0.1", "t=0 0", "a=recvonly" }));
        Assert.That(answer.Replace("a=recvonly\r\n", "", StringComparison.Ordinal), Is.EqualTo(offer));
        Assert.That(Sdp.RecvOnlyAnswer(PlainOffer.Replace("t=0 0\r\n", "t=0 0\r\na=sendrecv\r\n", StringComparison.Ordinal)), Does.Not.Contain("sendrecv"));
    }
}
