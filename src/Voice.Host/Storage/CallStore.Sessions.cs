using Dapper;

namespace Voice.Host.Storage;

/// <summary>A dashboard session as every host of a cluster finds it: the key's name it stands for, its CSRF token, its end.</summary>
public sealed record StoredSession(string KeyName, string CsrfToken, DateTimeOffset Expires);

/// <summary>Dashboard sessions kept where every host of a cluster finds them (the session's id is stored as a hash only).</summary>
public interface ISessionStore
{
    /// <summary>Keeps a new session, and forgets every session expired at <paramref name="now"/>: only live ones are kept.</summary>
    Task SaveSessionAsync(string idHash, StoredSession session, DateTimeOffset now);

    /// <summary>The session, or null when there is none or it has expired at <paramref name="now"/>.</summary>
    Task<StoredSession?> FindSessionAsync(string idHash, DateTimeOffset now);

    /// <summary>Forgets the session, and every session expired at <paramref name="now"/>.</summary>
    Task EndSessionAsync(string idHash, DateTimeOffset now);
}

public sealed partial class CallStore : ISessionStore
{
    public async Task SaveSessionAsync(string idHash, StoredSession session, DateTimeOffset now)
    {
        await using var connection = await _database.OpenAsync();
        await connection.ExecuteAsync("""
            DELETE FROM dashboard_sessions WHERE expires_at <= @now;
            INSERT INTO dashboard_sessions (id_hash, key_name, csrf_token, expires_at) VALUES (@idHash, @KeyName, @CsrfToken, @expires)
            """, new { idHash, session.KeyName, session.CsrfToken, expires = session.Expires.ToUnixTimeMilliseconds(), now = now.ToUnixTimeMilliseconds() });
    }

    public async Task<StoredSession?> FindSessionAsync(string idHash, DateTimeOffset now)
    {
        await using var connection = await _database.OpenAsync();
        var row = await connection.QuerySingleOrDefaultAsync<(string KeyName, string CsrfToken, long ExpiresAt)?>(
            "SELECT key_name, csrf_token, expires_at FROM dashboard_sessions WHERE id_hash = @idHash AND expires_at > @now",
            new { idHash, now = now.ToUnixTimeMilliseconds() });
        return row is { } found ? new StoredSession(found.KeyName, found.CsrfToken, DateTimeOffset.FromUnixTimeMilliseconds(found.ExpiresAt)) : null;
    }

    public async Task EndSessionAsync(string idHash, DateTimeOffset now)
    {
        await using var connection = await _database.OpenAsync();
        await connection.ExecuteAsync("DELETE FROM dashboard_sessions WHERE id_hash = @idHash OR expires_at <= @now", new { idHash, now = now.ToUnixTimeMilliseconds() });
    }
}
