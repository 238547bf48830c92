using Dapper;

namespace Voice.Host.Storage;

/// <summary>An agent as stored: the extension click-to-call rings first, and its name.</summary>
public sealed record AgentRecord(string Extension, string? Name, DateTimeOffset CreatedAt);

/// <summary>Agents: created on first use (or configured), counted from the calls that name them.</summary>
public sealed partial class SqliteCallStore
{
    private const string AgentsSchema = """
        CREATE TABLE IF NOT EXISTS agents (
            extension TEXT PRIMARY KEY,
            name TEXT,
            created_at INTEGER NOT NULL);
        """;

    /// <summary>Stores the agent unless it is known; a name given later fills one that was missing.</summary>
    public Task EnsureAgentAsync(string extension, string? name, DateTimeOffset now) => OnWriteThreadAsync(async connection =>
    {
        await connection.ExecuteAsync(
            "INSERT INTO agents (extension, name, created_at) VALUES (@extension, @name, @now) ON CONFLICT (extension) DO UPDATE SET name = COALESCE(agents.name, excluded.name)",
            new { extension, name, now = now.ToUnixTimeMilliseconds() });
        return true;
    });

    public async Task<IReadOnlyList<AgentRecord>> AgentsAsync()
    {
        await using var connection = await OpenAsync();
        var rows = await connection.QueryAsync<(string Extension, string? Name, long CreatedAt)>("SELECT extension, name, created_at FROM agents ORDER BY extension");
        return [.. rows.Select(r => new AgentRecord(r.Extension, r.Name, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt)))];
    }

    /// <summary>Click-to-call calls per agent since <paramref name="since"/>: all of them, and those that reached the destination.</summary>
    public async Task<IReadOnlyDictionary<string, (int Calls, int Connected)>> AgentCallsSinceAsync(DateTimeOffset since)
    {
        await using var connection = await OpenAsync();
        var rows = await connection.QueryAsync<(string Agent, long Calls, long Connected)>("""
            SELECT agent, COUNT(*), SUM(CASE WHEN results LIKE '%"outcome":"answered"%' THEN 1 ELSE 0 END)
            FROM calls WHERE agent IS NOT NULL AND created_at >= @since GROUP BY agent
            """, new { since = since.ToUnixTimeMilliseconds() });
        return rows.ToDictionary(r => r.Agent, r => ((int)r.Calls, (int)r.Connected), StringComparer.Ordinal);
    }

    /// <summary>The newest click-to-call of each agent that has not ended, as stored.</summary>
    public async Task<IReadOnlyDictionary<string, string>> OpenAgentCallsAsync()
    {
        await using var connection = await OpenAsync();
        var rows = await connection.QueryAsync<(string Agent, string CallId)>(
            "SELECT agent, call_id FROM calls WHERE agent IS NOT NULL AND ended_at IS NULL ORDER BY created_at");
        var open = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (agent, callId) in rows)
        {
            open[agent] = callId;
        }
        return open;
    }

    /// <summary>
    /// Calls per day for the <paramref name="days"/> days up to today, in the time zone whose offset is
    /// <paramref name="offset"/> (its offset now: a day across a clock change is an hour off), oldest first; days without calls count 0.
    /// </summary>
    public async Task<IReadOnlyList<(DateOnly Day, int Calls)>> CallsPerDayAsync(DateTimeOffset now, int days, TimeSpan offset)
    {
        var today = DateOnly.FromDateTime(now.ToOffset(offset).Date);
        var first = today.AddDays(1 - days);
        var since = new DateTimeOffset(first.ToDateTime(TimeOnly.MinValue), offset);
        await using var connection = await OpenAsync();
        var rows = await connection.QueryAsync<(string Day, long Calls)>("""
            SELECT date((created_at + @shift) / 1000, 'unixepoch') AS day, COUNT(*) FROM calls WHERE created_at >= @since GROUP BY 1
            UNION ALL
            SELECT day, SUM(calls) FROM call_counts_archive WHERE day >= @first GROUP BY day
            """, new { shift = (long)offset.TotalMilliseconds, since = since.ToUnixTimeMilliseconds(), first = first.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) });
        var counts = rows.GroupBy(r => DateOnly.ParseExact(r.Day, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => (int)g.Sum(r => r.Calls));
        return [.. Enumerable.Range(0, days).Select(i => first.AddDays(i)).Select(day => (day, counts.GetValueOrDefault(day)))];
    }
}
