using Voice.Control.Sip;

namespace Voice.Control.Tests.Sip;

public class DigestAuthenticatorTests
{
    private const string Challenge = "Digest realm=\"lab\", nonce=\"8a2f6c1e3b5d7f90a1c3e5f7\", qop=\"auth\", algorithm=MD5";
    private static readonly SipCredentials Lab = new("1001", "secret");

    // The captured retries: drachtio-srf answered these challenges with username 1001 and password "secret".
    [TestCase("INVITE", "sip:15551234567@127.0.0.1:5085", "0fb38b3f", "f2698b83898172249dbb3750fd004e0d")]
    [TestCase("INVITE", "sip:15551234567@127.0.0.1:5085", "cc0c01a2", "28e8af9edb2c2e4cb3c0f41cbb370acb")]
    [TestCase("REGISTER", "sip:pbx.example.com", "8fe4d0d8", "8a5dab2cb6973cf6f8ac9658775619cc")]
    public void Answers_match_the_captured_retries_byte_for_byte(string method, string uri, string cnonce, string response)
    {
        Assert.That(DigestChallenge.TryParse(Challenge, out var challenge), Is.True);
        var value = DigestAuthenticator.CreateAuthorization(challenge!, Lab, method, uri, cnonce);

        Assert.That(value, Is.EqualTo(
            $"Digest username=\"1001\",realm=\"lab\",nonce=\"8a2f6c1e3b5d7f90a1c3e5f7\",uri=\"{uri}\"," +
            $"response=\"{response}\",algorithm=MD5,qop=auth,nc=00000001,cnonce=\"{cnonce}\""));
    }

    [Test]
    public void The_rfc_2617_example_gives_its_published_response()
    {
        var challenge = new DigestChallenge("testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "5ccc069c403ebaf9f0171e9517f40e41", "MD5", ["auth", "auth-int"], false);
        var value = DigestAuthenticator.CreateAuthorization(challenge, new SipCredentials("Mufasa", "Circle Of Life"), "GET", "/dir/index.html", "0a4f113b");
        Assert.That(value, Does.Contain("response=\"6629fae49393a05397450978507c4ef1\""));
        Assert.That(value, Does.Contain("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    }

    [Test]
    public void The_rfc_7616_examples_give_their_published_responses()
    {
        var credentials = new SipCredentials("Mufasa", "Circle of Life");
        const string nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        const string cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        var md5 = new DigestChallenge("http-auth@example.org", nonce, null, "MD5", ["auth"], false);
        var sha = md5 with { Algorithm = "SHA-256" };

        Assert.That(DigestAuthenticator.CreateAuthorization(md5, credentials, "GET", "/dir/index.html", cnonce),
            Does.Contain("response=\"8ca523f5e9506fed4657c9700eebdbec\""));
        Assert.That(DigestAuthenticator.CreateAuthorization(sha, credentials, "GET", "/dir/index.html", cnonce),
            Does.Contain("response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""));
    }

    [Test]
    public void A_challenge_without_qop_gets_the_rfc_2069_answer()
    {
        var challenge = new DigestChallenge("lab", "abc", null, "MD5", [], false);
        var value = DigestAuthenticator.CreateAuthorization(challenge, Lab, "INVITE", "sip:1@lab", "ignored");
        Assert.That(value, Does.Not.Contain("qop=").And.Not.Contain("cnonce").And.Not.Contain("nc="));
    }

    [Test]
    public void Challenges_parse_quoted_commas_stale_and_several_qops()
    {
        Assert.That(DigestChallenge.TryParse("Digest realm=\"a, b\",nonce=\"n\",qop=\"auth,auth-int\",stale=TRUE,opaque=\"o\"", out var c), Is.True);
        Assert.That(c!.Realm, Is.EqualTo("a, b"));
        Assert.That(c.Qop, Is.EqualTo(new[] { "auth", "auth-int" }));
        Assert.That(c.Stale, Is.True);
        Assert.That(c.Algorithm, Is.EqualTo("MD5"));
        Assert.That(DigestChallenge.TryParse("Basic realm=\"x\"", out _), Is.False);
        Assert.That(DigestChallenge.TryParse("Digest nonce=\"n\"", out _), Is.False, "realm is required");
    }

    [Test]
    public void Unsupported_algorithms_are_reported_not_guessed()
    {
        var challenge = new DigestChallenge("lab", "n", null, "SHA-512-256", ["auth"], false);
        Assert.That(DigestAuthenticator.IsSupported(challenge), Is.False);
        Assert.Throws<NotSupportedException>(() => DigestAuthenticator.CreateAuthorization(challenge, Lab, "INVITE", "sip:x@y", "c"));
    }

    [Test]
    public void Credentials_never_print_the_password() =>
        Assert.That(Lab.ToString(), Does.Not.Contain("secret"));
}
