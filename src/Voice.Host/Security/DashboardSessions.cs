using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Voice.Host.Security;

/// <summary>One signed-in browser: the API key's name it signed in with, its CSRF token, and when it expires.</summary>
internal sealed record DashboardSession(string KeyName, string CsrfToken, DateTimeOffset Expires);

/// <summary>
/// The dashboard's sessions. Signing in with an API key gives the browser an unguessable session id in an HttpOnly,
/// SameSite=Strict cookie (scripts cannot read it, other sites cannot send it); a request that changes anything must also
/// carry the session's CSRF token in <c>X-CSRF-Token</c>, which only the page itself learns. Sessions live in memory: a
/// restart signs everyone out, and at most <see cref="MaxSessions"/> are kept (the oldest go first).
/// </summary>
internal sealed class DashboardSessions(TimeProvider time)
{
    public const string CookieName = "vb_session";

    public const string CsrfHeader = "X-CSRF-Token";

    public const int MaxSessions = 1000;

    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    private readonly ConcurrentDictionary<string, DashboardSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>Starts a session for a key's holder; returns its id (for the cookie) and the session.</summary>
    public (string Id, DashboardSession Session) Start(string keyName)
    {
        var now = time.GetUtcNow();
        foreach (var expired in _sessions.Where(s => s.Value.Expires <= now).Select(s => s.Key).ToList())
        {
            _sessions.TryRemove(expired, out _);
        }
        while (_sessions.Count >= MaxSessions && _sessions.OrderBy(s => s.Value.Expires).Select(s => s.Key).FirstOrDefault() is { } oldest)
        {
            _sessions.TryRemove(oldest, out _);
        }
        var id = Token();
        var session = new DashboardSession(keyName, Token(), now + Lifetime);
        _sessions[id] = session;
        return (id, session);
    }

    /// <summary>The live session of a cookie value, or null.</summary>
    public DashboardSession? Find(string? id)
    {
        if (string.IsNullOrEmpty(id) || !_sessions.TryGetValue(id, out var session))
        {
            return null;
        }
        if (session.Expires <= time.GetUtcNow())
        {
            _sessions.TryRemove(id, out _);
            return null;
        }
        return session;
    }

    public void End(string? id)
    {
        if (id is not null)
        {
            _sessions.TryRemove(id, out _);
        }
    }

    /// <summary>True when <paramref name="presented"/> is the session's CSRF token (compared in constant time).</summary>
    public static bool CsrfMatches(DashboardSession session, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(session.CsrfToken), System.Text.Encoding.UTF8.GetBytes(presented));

    private static string Token() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
