using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>
/// Answers 401/407 challenges for one request: once per challenge, and a second time only when the server
/// says the first nonce went stale. A fresh challenge after a retry means the credentials were refused.
/// </summary>
internal sealed class DigestRetry(SipCredentials credentials, Func<string> cnonceFactory)
{
    private readonly HashSet<string> _nonces = new(StringComparer.Ordinal);

    /// <summary>
    /// The credentials header for the retry of <paramref name="method"/> <paramref name="requestUri"/>,
    /// or false when the challenge cannot or should not be answered.
    /// </summary>
    public bool TryAnswer(SipMessage challenge, string method, string requestUri, out KeyValuePair<string, string> header)
    {
        header = default;
        var proxy = challenge.StatusCode == 407;
        var offered = challenge.GetHeaders(proxy ? "Proxy-Authenticate" : "WWW-Authenticate")
            .Select(h => DigestChallenge.TryParse(h, out var c) ? c : null)
            .Where(c => c is not null && DigestAuthenticator.IsSupported(c))
            .ToList();
        // Prefer the strongest algorithm the server offers (RFC 8760 §2.4).
        var chosen = offered.FirstOrDefault(c => c!.Algorithm.StartsWith("SHA-256", StringComparison.OrdinalIgnoreCase)) ?? offered.FirstOrDefault();
        var refused = chosen is null
            || _nonces.Contains(chosen.Nonce)
            || _nonces.Count >= 2
            || (_nonces.Count == 1 && !chosen.Stale);
        if (refused)
        {
            return false;
        }
        _nonces.Add(chosen!.Nonce);
        var value = DigestAuthenticator.CreateAuthorization(chosen, credentials, method, requestUri, cnonceFactory());
        header = new(proxy ? "Proxy-Authorization" : "Authorization", value);
        return true;
    }

    /// <summary>
    /// Where the retried request goes. Without a configured outbound proxy, the retry is pinned to the address
    /// that challenged us, so a name that resolves to several servers cannot send credentials for one server's
    /// nonce to another (drachtio-srf does the same, see the uac-401-auth capture).
    /// </summary>
    public static string? ProxyForRetry(string? configuredProxy, DrachtioNetworkMessage challenge)
    {
        if (configuredProxy is not null)
        {
            return configuredProxy;
        }
        if (challenge.Port == 0 || challenge.Address.Length == 0)
        {
            return null;
        }
        var host = challenge.Address.Contains(':') ? $"[{challenge.Address}]" : challenge.Address;
        var transport = challenge.Transport;
        var suffix = transport.Equals("tcp", StringComparison.OrdinalIgnoreCase) ? ";transport=tcp"
            : transport.Equals("tls", StringComparison.OrdinalIgnoreCase) ? ";transport=tls"
            : string.Empty;
        return $"sip:{host}:{challenge.Port}{suffix}";
    }
}
