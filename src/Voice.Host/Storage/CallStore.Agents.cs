using Dapper;

namespace Voice.Host.Storage;

/// <summary>An agent as stored: the extension click-to-call rings first, and its name.</summary>
public sealed record AgentRecord(string Extension, string? Name, DateTimeOffset CreatedAt);

/// <summary>Agents: created on first use (or configured); their counts come from the calls that name them (CallStore.Stats.cs).</summary>
public sealed partial class CallStore
{
    public Task EnsureAgentAsync(string extension, string? name, DateTimeOffset now) => OnWriteThreadAsync((connection, transaction) => connection.Execute(
        "INSERT INTO agents (extension, name, created_at) VALUES (@extension, @name, @now) ON CONFLICT (extension) DO UPDATE SET name = COALESCE(agents.name, excluded.name)",
        new { extension, name, now = now.ToUnixTimeMilliseconds() }, transaction));

    public async Task<IReadOnlyList<AgentRecord>> AgentsAsync()
    {
        await using var connection = await _database.OpenAsync();
        var rows = await connection.QueryAsync<(string Extension, string? Name, long CreatedAt)>("SELECT extension, name, created_at FROM agents ORDER BY extension");
        return [.. rows.Select(r => new AgentRecord(r.Extension, r.Name, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt)))];
    }

    public async Task<IReadOnlyDictionary<string, string>> OpenAgentCallsAsync()
    {
        await using var connection = await _database.OpenAsync();
        var rows = await connection.QueryAsync<(string Agent, string CallId)>(
            "SELECT agent, call_id FROM calls WHERE agent IS NOT NULL AND ended_at IS NULL ORDER BY created_at");
        var open = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (agent, callId) in rows)
        {
            open[agent] = callId;
        }
        return open;
    }
}
