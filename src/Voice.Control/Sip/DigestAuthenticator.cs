using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Voice.Control.Sip;

/// <summary>
/// Computes Digest <c>Authorization</c> / <c>Proxy-Authorization</c> values (RFC 7616, with the RFC 2617
/// forms SIP servers still send): MD5, MD5-sess, SHA-256 and SHA-256-sess; qop <c>auth</c> preferred,
/// <c>auth-int</c> when it is the only choice, and no qop for servers that offer none.
/// </summary>
public static class DigestAuthenticator
{
    public static bool IsSupported(DigestChallenge challenge) =>
        HashFor(challenge.Algorithm) is not null &&
        (challenge.Qop.Count == 0 || challenge.Qop.Any(q => q is "auth" or "auth-int"));

    /// <summary>A fresh client nonce: 16 hex digits from a cryptographic random source.</summary>
    public static string NewCnonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    /// <summary>
    /// The credentials header value for one request. <paramref name="uri"/> is the Request-URI exactly as
    /// sent (RFC 3261 §22.4); <paramref name="body"/> is only used for qop=auth-int.
    /// </summary>
    /// <exception cref="NotSupportedException">The challenge names an algorithm or qop this client cannot answer.</exception>
    public static string CreateAuthorization(
        DigestChallenge challenge, SipCredentials credentials, string method, string uri, string cnonce, int nonceCount = 1, string? body = null)
    {
        var hash = HashFor(challenge.Algorithm)
            ?? throw new NotSupportedException($"Digest algorithm '{challenge.Algorithm}' is not supported.");
        string? qop = challenge.Qop.Count == 0 ? null
            : challenge.Qop.Contains("auth") ? "auth"
            : challenge.Qop.Contains("auth-int") ? "auth-int"
            : throw new NotSupportedException($"Digest qop '{string.Join(",", challenge.Qop)}' is not supported.");
        var nc = nonceCount.ToString("x8", CultureInfo.InvariantCulture);

        var ha1 = hash($"{credentials.Username}:{challenge.Realm}:{credentials.Password}");
        if (challenge.Algorithm.EndsWith("-sess", StringComparison.OrdinalIgnoreCase))
        {
            ha1 = hash($"{ha1}:{challenge.Nonce}:{cnonce}");
        }
        var ha2 = qop == "auth-int" ? hash($"{method}:{uri}:{hash(body ?? string.Empty)}") : hash($"{method}:{uri}");
        var response = qop is null
            ? hash($"{ha1}:{challenge.Nonce}:{ha2}")
            : hash($"{ha1}:{challenge.Nonce}:{nc}:{cnonce}:{qop}:{ha2}");

        // Parameter order and quoting as drachtio-srf sends them (see the uac-401-auth capture):
        // algorithm, qop and nc are tokens; everything else is a quoted-string.
        var sb = new StringBuilder(256).Append("Digest ");
        sb.Append("username=").Append(Quote(credentials.Username));
        sb.Append(",realm=").Append(Quote(challenge.Realm));
        sb.Append(",nonce=").Append(Quote(challenge.Nonce));
        sb.Append(",uri=").Append(Quote(uri));
        sb.Append(",response=").Append(Quote(response));
        sb.Append(",algorithm=").Append(challenge.Algorithm);
        if (qop is not null)
        {
            sb.Append(",qop=").Append(qop);
        }
        if (challenge.Opaque is not null)
        {
            sb.Append(",opaque=").Append(Quote(challenge.Opaque));
        }
        if (qop is not null)
        {
            sb.Append(",nc=").Append(nc).Append(",cnonce=").Append(Quote(cnonce));
        }
        return sb.ToString();
    }

    private static Func<string, string>? HashFor(string algorithm) => algorithm.ToUpperInvariant() switch
    {
        "MD5" or "MD5-SESS" => s => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(s))),
        "SHA-256" or "SHA-256-SESS" => s => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s))),
        _ => null,
    };

    private static string Quote(string value)
    {
        SipHeaderNames.ValidateValue("digest parameter", value);
        return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }
}
