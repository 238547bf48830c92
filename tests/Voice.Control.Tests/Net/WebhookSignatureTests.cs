using System.Security.Cryptography;
using System.Text;
using Voice.Control.Net;

namespace Voice.Control.Tests.Net;

public class WebhookSignatureTests
{
    /// <summary>What a receiver computes from the documented recipe: HMAC-SHA256 over "&lt;t&gt;.&lt;body&gt;", in lower-case hex.</summary>
    private static string Expected(byte[] secret, long t, string body) =>
        $"t={t},v1={Convert.ToHexStringLower(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{t}.{body}")))}";

    [Test]
    public void The_header_is_the_documented_hmac_for_every_secret_and_body_signed_one_after_another()
    {
        var first = Encoding.UTF8.GetBytes("first-secret-0123456789");
        var second = Encoding.UTF8.GetBytes("second-secret-9876543210");
        var bodies = new[]
        {
            """{"callId":"a","status":"ringing"}""",
            "",
            """{"message":"Grüße aus Zürich — ☎ 3 €"}""",
            "{\"message\":\"" + new string('x', 5000) + "\"}", // larger than the stack buffer
        };
        // Alternating secrets on one thread: each signature uses its own key, never the one kept from the last.
        foreach (var body in bodies)
        {
            foreach (var secret in new[] { first, second, first })
            {
                Assert.That(WebhookSignature.Sign(secret, 1_764_000_000, body), Is.EqualTo(Expected(secret, 1_764_000_000, body)));
            }
        }
        Assert.That(WebhookSignature.Sign(first, -5, "x"), Is.EqualTo(Expected(first, -5, "x")));
    }

    [Test]
    public void A_secret_changed_in_place_signs_with_its_new_bytes()
    {
        var secret = Encoding.UTF8.GetBytes("rotating-secret-aaaaaaaa");
        var before = WebhookSignature.Sign(secret, 1_764_000_000, "{}");
        secret[^1] = (byte)'b';

        Assert.That(WebhookSignature.Sign(secret, 1_764_000_000, "{}"), Is.EqualTo(Expected(secret, 1_764_000_000, "{}")).And.Not.EqualTo(before));
    }

    [Test]
    public void Threads_signing_at_once_each_get_the_right_signature()
    {
        var secrets = Enumerable.Range(0, 4).Select(i => Encoding.UTF8.GetBytes($"secret-{i}-0123456789abcdef")).ToArray();
        var wrong = 0;
        Parallel.For(0, 8, i =>
        {
            for (var n = 0; n < 500; n++)
            {
                var secret = secrets[(i + n) % secrets.Length];
                var body = $"{{\"n\":{n},\"thread\":{i}}}";
                if (WebhookSignature.Sign(secret, n, body) != Expected(secret, n, body))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        });

        Assert.That(wrong, Is.Zero);
    }

    [Test]
    public void Verify_accepts_the_signature_and_refuses_another_body_secret_or_an_old_timestamp()
    {
        var secret = Encoding.UTF8.GetBytes("verify-secret-0123456789");
        var now = DateTimeOffset.FromUnixTimeSeconds(1_764_000_000);
        var header = WebhookSignature.Sign(secret, now.ToUnixTimeSeconds(), "{\"a\":1}");

        Assert.That(WebhookSignature.Verify(secret, header, "{\"a\":1}", now, TimeSpan.FromMinutes(5)), Is.True);
        Assert.That(WebhookSignature.Verify(secret, header, "{\"a\":2}", now, TimeSpan.FromMinutes(5)), Is.False);
        Assert.That(WebhookSignature.Verify(Encoding.UTF8.GetBytes("other"), header, "{\"a\":1}", now, TimeSpan.FromMinutes(5)), Is.False);
        Assert.That(WebhookSignature.Verify(secret, header, "{\"a\":1}", now.AddMinutes(6), TimeSpan.FromMinutes(5)), Is.False);
    }
}
