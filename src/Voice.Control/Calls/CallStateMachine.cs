namespace Voice.Control.Calls;

/// <summary>
/// The call's transition table, in one place:
/// <code>
/// queued  → dialing | failed
/// dialing → ringing | playing | failed        (answered without a 18x goes straight to playing)
/// ringing → playing | failed
/// playing → completed | failed                (failed: the message could not be played)
/// completed, failed: final
/// </code>
/// A failed call carries a failure reason, a completed call a completion reason; no other state has one.
/// </summary>
public static class CallStateMachine
{
    private static readonly Dictionary<CallState, CallState[]> Next = new()
    {
        [CallState.Queued] = [CallState.Dialing, CallState.Failed],
        [CallState.Dialing] = [CallState.Ringing, CallState.Playing, CallState.Failed],
        [CallState.Ringing] = [CallState.Playing, CallState.Failed],
        [CallState.Playing] = [CallState.Completed, CallState.Failed],
        [CallState.Completed] = [],
        [CallState.Failed] = [],
    };

    /// <summary>A state as the REST API, webhooks, metrics and traces name it: queued, dialing, ringing, playing, completed, failed.</summary>
    public static string Name(CallState state) => state switch
    {
        CallState.Queued => "queued",
        CallState.Dialing => "dialing",
        CallState.Ringing => "ringing",
        CallState.Playing => "playing",
        CallState.Completed => "completed",
        _ => "failed",
    };

    public static bool IsFinal(CallState state) => state is CallState.Completed or CallState.Failed;

    /// <summary>Whether <paramref name="from"/> → <paramref name="to"/> with <paramref name="reason"/> is a legal change.</summary>
    public static bool CanMove(CallState from, CallState to, string? reason) =>
        Next[from].Contains(to) && to switch
        {
            CallState.Failed => reason is not null && CallReasons.Failures.Contains(reason),
            CallState.Completed => reason is not null && CallReasons.Completions.Contains(reason),
            _ => reason is null,
        };

    /// <exception cref="InvalidOperationException">The change is not in the table.</exception>
    public static void EnsureCanMove(CallState from, CallState to, string? reason)
    {
        if (!CanMove(from, to, reason))
        {
            throw new InvalidOperationException($"a call cannot go from {from} to {to}{(reason is null ? "" : $" ({reason})")}");
        }
    }
}
