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

    public Task<CallStateChange> ReachAsync(string callId, CallState state, TimeSpan? within = null) =>
        WaitForAsync(callId, c => c.To == state, $"reach {state}", within);

    public Task<CallStateChange> FinalAsync(string callId, TimeSpan? within = null) =>
        WaitForAsync(callId, c => CallStateMachine.IsFinal(c.To), "end", within);

    private async Task<CallStateChange> WaitForAsync(string callId, Func<CallStateChange, bool> match, string what, TimeSpan? within)
    {
        var deadline = DateTime.UtcNow + (within ?? Timeouts.Step);
        while (true)
        {
            if (Of(callId).FirstOrDefault(match) is { } change)
            {
                return change;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"call {callId} did not {what}; it went {string.Join(" → ", Of(callId).Select(c => c.To))}");
            }
            await Task.Delay(5);
        }
    }
}
