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
    public void FreeSWITCHs_answer_to_a_phones_re_offer_is_cut_to_the_offered_streams()
    {
        // As the lab's FreeSWITCH answered a phone's hold (one stream) on an endpoint whose session had SAVP + AVP.
        const string answer = "v=0\r\no=Jambonz-Mediaserver 1 3 IN IP4 192.0.2.2\r\ns=Jambonz-Mediaserver\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
            "m=audio 40416 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\nm=audio 0 RTP/AVP 19\r\n";
        const string hold = "v=0\r\no=phone 1 2 IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=sendonly\r\n";

        var cut = Sdp.AnswerToOffer(answer, hold);

        Assert.That(Sdp.MediaProfiles(cut), Is.EqualTo(new[] { "RTP/AVP" }));
        Assert.That(cut, Does.StartWith(answer[..answer.IndexOf("m=audio 0", StringComparison.Ordinal)]), "the accepted stream as FreeSWITCH answered it");
        Assert.That(Sdp.AnswerToOffer(PlainOffer, hold), Is.EqualTo(PlainOffer), "an answer with as many streams is left alone");
    }

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
    public void With_SRTP_configured_the_phone_gets_the_SAVP_stream_with_FreeSWITCHs_key_for_one_suite()
    {
        var sdp = Sdp.OfferForPhone(CapturedOffer(), ["PCMA"], srtp: true);

        Assert.That(MediaRig.Lines(sdp, "m="), Is.EqualTo(new[] { "m=audio 40966 RTP/SAVP 8 101" }));
        Assert.That(MediaRig.Lines(sdp, "a=crypto:"), Is.EqualTo(new[] { "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:oCzbYENdXTCHhfuLPV6FGdwlhgpk0IE/mudDbwva" }),
            "the suite every SDES phone has, so the phone and the ACK's answer agree on it");
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
    public void The_answer_in_the_ACK_rejects_the_SAVP_stream_and_takes_the_AVP_one_receive_only()
    {
        var answer = Sdp.AnswerForMediaServer(CapturedOffer(), PcmuPcma, srtp: false);

        Assert.That(answer.Split("\r\n"), Is.EqualTo(new[]
        {
            "v=0",
            "o=Lab-Mediaserver 1795277282 1795277283 IN IP4 192.0.2.2",
            "s=Lab-Mediaserver",
            "c=IN IP4 127.0.0.1",
            "t=0 0",
            "a=recvonly",
            "m=audio 0 RTP/SAVP 0",
            "m=audio 40966 RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "",
        }));
        Assert.That(Sdp.MediaProfiles(answer), Has.Count.EqualTo(Sdp.MediaProfiles(CapturedOffer()).Count), "RFC 3264: one answer line per offered line");
    }

    [Test]
    public void With_SRTP_configured_the_answer_takes_the_SAVP_stream_with_one_suite_and_a_key_of_its_own()
    {
        var answer = Sdp.AnswerForMediaServer(CapturedOffer(), PcmuPcma, srtp: true);

        Assert.That(MediaRig.Lines(answer, "m="), Is.EqualTo(new[] { "m=audio 40966 RTP/SAVP 0 8 101", "m=audio 0 RTP/AVP 0" }));
        var crypto = MediaRig.Lines(answer, "a=crypto:");
        Assert.That(crypto, Has.Count.EqualTo(1));
        Assert.That(crypto[0], Does.StartWith("a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:"));
        var key = crypto[0]["a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:".Length..];
        Assert.That(Convert.FromBase64String(key), Has.Length.EqualTo(30), "16-byte key and 14-byte salt (RFC 4568)");
        Assert.That(key, Is.Not.EqualTo("oCzbYENdXTCHhfuLPV6FGdwlhgpk0IE/mudDbwva"), "FreeSWITCH's own key is its, not ours");
        Assert.That(Sdp.AnswerForMediaServer(CapturedOffer(), PcmuPcma, srtp: true), Does.Not.Contain(key), "a fresh key per answer");
    }

    [Test]
    public void An_offer_without_a_usable_stream_is_answered_with_every_stream_rejected()
    {
        var savpOnly = PlainOffer.Replace("RTP/AVP", "RTP/SAVP", StringComparison.Ordinal);

        var answer = Sdp.AnswerForMediaServer(savpOnly, PcmuPcma, srtp: false);

        Assert.That(MediaRig.Lines(answer, "m="), Is.EqualTo(new[] { "m=audio 0 RTP/SAVP 0" }));
        Assert.That(MediaRig.Lines(answer, "a=rtpmap:"), Is.Empty);
    }

    [Test]
    public void A_direction_in_the_offer_is_replaced_by_receive_only()
    {
        var answer = Sdp.AnswerForMediaServer(PlainOffer.Replace("a=ptime:20\r\n", "a=ptime:20\r\na=sendrecv\r\n", StringComparison.Ordinal), PcmuPcma, srtp: false);

        Assert.That(answer, Does.Not.Contain("sendrecv"));
        Assert.That(MediaRig.Lines(answer, "a=recvonly"), Has.Count.EqualTo(1));
    }
}
