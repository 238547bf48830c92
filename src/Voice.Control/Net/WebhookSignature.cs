using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Voice.Control.Net;

/// <summary>
/// How webhooks and call hooks are signed: <c>X-VoiceBridge-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex&gt;</c>, where v1 is HMAC-SHA256, keyed with the
/// webhook secret, over <c>"&lt;t&gt;.&lt;body&gt;"</c>. A receiver recomputes it over the raw body, compares in
/// constant time, and rejects old timestamps so a captured request cannot be replayed later.
/// </summary>
public static class WebhookSignature
{
    public const string Header = "X-VoiceBridge-Signature";

    public static string Sign(byte[] secret, long unixSeconds, string body) =>
        $"t={unixSeconds.ToString(CultureInfo.InvariantCulture)},v1={Mac(secret, unixSeconds, body)}";

    private static string Mac(byte[] secret, long unixSeconds, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(unixSeconds.ToString(CultureInfo.InvariantCulture) + "." + body)));

    /// <summary>What a receiver does: true when the header is well formed, fresh within <paramref name="tolerance"/>, and matches.</summary>
    public static bool Verify(byte[] secret, string header, string body, DateTimeOffset now, TimeSpan tolerance)
    {
        long? t = null;
        string? v1 = null;
        foreach (var part in header.Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return false;
            }
            var (name, value) = (part[..eq].Trim(), part[(eq + 1)..].Trim());
            if (name == "t" && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                t = seconds;
            }
            else if (name == "v1")
            {
                v1 = value;
            }
        }
        if (t is not { } timestamp || v1 is null || Math.Abs(now.ToUnixTimeSeconds() - timestamp) > tolerance.TotalSeconds)
        {
            return false;
        }
        var expected = Encoding.ASCII.GetBytes(Mac(secret, timestamp, body));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(v1));
    }
}
