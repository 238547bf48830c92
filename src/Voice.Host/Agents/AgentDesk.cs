using System.Collections.Concurrent;
using Voice.Control.Calls;
using Voice.Host.Storage;

namespace Voice.Host.Agents;

/// <summary>An agent as configured: the extension click-to-call rings first, and the name shown for it.</summary>
public sealed record AgentSettings(string Extension, string? Name);

/// <summary>
/// Who is in a call. An agent is busy while its click-to-call has not ended; nothing else is kept, so availability comes
/// back on every way a call ends (answered or not, failed, hung up from either side, through the API) and after a restart
/// (the calls a restart cut short are closed, those still queued are placed again and keep their agent busy).
/// One agent, one call: the reservation is taken before the call is placed, so two clicks at once cannot both ring it.
/// </summary>
internal sealed class AgentDesk(IOutboundCalls calls, ICallStore store, IReadOnlyList<AgentSettings> configured)
{
    /// <summary>Agent → the call that holds it (or a reservation, for a call being placed).</summary>
    private readonly ConcurrentDictionary<string, string> _holding = new(StringComparer.Ordinal);

    /// <summary>The click-to-call each agent is (or was last) in, with its destination: one entry per agent.</summary>
    private readonly ConcurrentDictionary<string, (string Agent, string Destination)> _calls = new(StringComparer.Ordinal);

    public IReadOnlyList<AgentSettings> Configured => configured;

    /// <summary>The agent and destination of a click-to-call this host placed (the last of each agent).</summary>
    public (string Agent, string Destination)? ClickToCallOf(string callId) => _calls.TryGetValue(callId, out var call) ? call : null;

    /// <summary>What a start-up finds: click-to-calls still open in the store (queued ones, placed again) hold their agents.</summary>
    public async Task LoadAsync()
    {
        foreach (var (agent, callId) in await store.OpenAgentCallsAsync())
        {
            _holding[agent] = callId;
        }
    }

    /// <summary>The call the agent is in, or null when it is free.</summary>
    public string? CallOf(string agent)
    {
        if (!_holding.TryGetValue(agent, out var callId))
        {
            return null;
        }
        if (callId.StartsWith(ReservationPrefix, StringComparison.Ordinal))
        {
            return callId;
        }
        return calls.Get(callId) is { } live && !CallStateMachine.IsFinal(live.State) ? callId : null;
    }

    private const string ReservationPrefix = "reserving:";

    /// <summary>Takes the agent for a call about to be placed; null when it is in a call (the call's id is returned).</summary>
    public (bool Taken, string? BusyWith, string Token) TryReserve(string agent)
    {
        var token = ReservationPrefix + Guid.NewGuid().ToString("N");
        while (true)
        {
            if (_holding.TryAdd(agent, token))
            {
                return (true, null, token);
            }
            if (!_holding.TryGetValue(agent, out var current))
            {
                continue;
            }
            if (CallOf(agent) is { } busy)
            {
                return (false, busy, token);
            }
            // Held by a call that has ended: free.
            if (_holding.TryUpdate(agent, token, current))
            {
                return (true, null, token);
            }
        }
    }

    /// <summary>The reservation became the call.</summary>
    public void Placed(string agent, string destination, string token, string callId)
    {
        foreach (var earlier in _calls.Where(c => c.Value.Agent == agent).Select(c => c.Key).ToList())
        {
            _calls.TryRemove(earlier, out _);
        }
        _calls[callId] = (agent, destination);
        _holding.TryUpdate(agent, callId, token);
    }

    /// <summary>The reservation was not used (the request was refused).</summary>
    public void Release(string agent, string token) => _holding.TryRemove(new KeyValuePair<string, string>(agent, token));

    /// <summary>The configured name of an agent, if any.</summary>
    public string? NameOf(string agent) => configured.FirstOrDefault(a => a.Extension == agent)?.Name;
}
