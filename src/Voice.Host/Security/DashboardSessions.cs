using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Voice.Host.Security;

/// <summary>One signed-in browser: the API key's name it signed in with, its CSRF token, and when it expires.</summary>
internal sealed record DashboardSession(string KeyName, string CsrfToken, DateTimeOffset Expires);

/// <summary>
/// The dashboard's sessions. Signing in with an API key gives the browser an unguessable session id in an HttpOnly,
/// SameSite=Strict cookie (scripts cannot read it, other sites cannot send it); a request that changes anything must also
/// carry the session's CSRF token in <c>X-CSRF-Token</c>, which only the page itself learns. Sessions live in memory: a
/// restart signs everyone out, and at most <see cref="MaxSessions"/> are kept (the oldest go first). In a cluster they are
/// kept in the shared database instead (<paramref name="shared"/>; the id as a SHA-256 hash only), so any host behind the
/// load balancer knows a session another host started, and a sign-out at one ends it at all.
/// </summary>
internal sealed class DashboardSessions(TimeProvider time, Storage.ISessionStore? shared = null)
{
    public const string CookieName = "vb_session";

    public const string CsrfHeader = "X-CSRF-Token";

    public const int MaxSessions = 1000;

    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    private readonly ConcurrentDictionary<string, DashboardSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>Starts a session for a key's holder; returns its id (for the cookie) and the session.</summary>
    public async Task<(string Id, DashboardSession Session)> StartAsync(string keyName)
    {
        if (shared is null)
        {
            return Start(keyName);
        }
        var now = time.GetUtcNow();
        var (id, session) = (Token(), new DashboardSession(keyName, Token(), now + Lifetime));
        await shared.SaveSessionAsync(Hash(id), new Storage.StoredSession(session.KeyName, session.CsrfToken, session.Expires), now);
        return (id, session);
    }

    /// <summary>
    /// The live session of a cookie value, or null: from memory, or in a cluster from the database every time (a sign-out
    /// at one host ends the session at all of them; the dashboard's few requests afford the read).
    /// </summary>
    public async ValueTask<DashboardSession?> FindAsync(string? id)
    {
        if (shared is null || string.IsNullOrEmpty(id))
        {
            return Find(id);
        }
        return await shared.FindSessionAsync(Hash(id), time.GetUtcNow()) is { } stored ? new DashboardSession(stored.KeyName, stored.CsrfToken, stored.Expires) : null;
    }

    public async Task EndAsync(string? id)
    {
        End(id);
        if (shared is not null && id is not null)
        {
            await shared.EndSessionAsync(Hash(id), time.GetUtcNow());
        }
    }

    private static string Hash(string id) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id)));

    private (string Id, DashboardSession Session) Start(string keyName)
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

    /// <summary>The live session of a cookie value in memory, or null.</summary>
    private DashboardSession? Find(string? id)
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

    private void End(string? id)
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
