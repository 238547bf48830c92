using System.Diagnostics;

namespace Voice.Control.Calls;

/// <summary>
/// One change of one call's state, timestamped and numbered per call (1, 2, …) so a receiver can order and
/// de-duplicate them. The host persists these and turns them into webhooks.
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="Sequence">1 for the first change of the call (queued), then one more per change.</param>
/// <param name="From">The state before, or null for the first change.</param>
/// <param name="To">The new state.</param>
/// <param name="At">When it changed.</param>
/// <param name="Reason">For completed and failed: why (see <see cref="CallReasons"/>).</param>
/// <param name="SipStatus">The SIP status behind it, when there was one (180, 200, 486…).</param>
/// <param name="Detail">A human-readable explanation for failures.</param>
/// <param name="Tag">The call's tag (the request's, or the script's last <c>tag</c> verb's), echoed in every change.</param>
/// <param name="Simulated">True when the simulated backend made the call.</param>
public sealed record CallStateChange(
    string CallId,
    int Sequence,
    CallState? From,
    CallState To,
    DateTimeOffset At,
    string? Reason = null,
    int? SipStatus = null,
    string? Detail = null,
    string? Tag = null,
    bool Simulated = false)
{
    /// <summary>
    /// The call's span (its trace id and span id; default when nothing listens to <c>Voice.Control</c>), so work done
    /// for the call later — its webhooks, even after a restart — joins the call's trace.
    /// </summary>
    public ActivityContext Trace { get; init; }

    /// <summary>What the call's script had found out when it changed (in the final change: everything).</summary>
    public CallResults Results { get; init; } = CallResults.None;
}
