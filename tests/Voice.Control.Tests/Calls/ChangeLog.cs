using Voice.Control.Calls;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Calls;

/// <summary>Every state change a manager reports, for tests to wait on and inspect.</summary>
public sealed class ChangeLog
{
    private readonly List<CallStateChange> _changes = [];

    public ChangeLog(IOutboundCalls calls) => calls.StateChanged += (_, change) =>
    {
        OnChange?.Invoke(change);
        lock (_changes)
        {
            _changes.Add(change);
        }
    };

    /// <summary>Called with each change as it is delivered, before it is recorded.</summary>
    public Action<CallStateChange>? OnChange { get; set; }

    public IReadOnlyList<CallStateChange> All
    {
        get
        {
            lock (_changes)
            {
                return [.. _changes];
            }
        }
    }

    public IReadOnlyList<CallStateChange> Of(string callId) => [.. All.Where(c => c.CallId == callId)];

    public async Task<CallStateChange> ReachAsync(string callId, CallState state, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Timeouts.Step);
        while (true)
        {
            if (Of(callId).FirstOrDefault(c => c.To == state) is { } change)
            {
                return change;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"call {callId} did not reach {state}; it went {string.Join(" → ", Of(callId).Select(c => c.To))}");
            }
            await Task.Delay(5);
        }
    }

    public async Task<CallStateChange> FinalAsync(string callId, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Timeouts.Step);
        while (true)
        {
            if (Of(callId).FirstOrDefault(c => CallStateMachine.IsFinal(c.To)) is { } change)
            {
                return change;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"call {callId} did not end; it went {string.Join(" → ", Of(callId).Select(c => c.To))}");
            }
            await Task.Delay(5);
        }
    }
}
