namespace Voice.Control.Calls;

/// <summary>The library API for placing announce calls.</summary>
public interface IOutboundCalls
{
    /// <summary>True when calls go to the simulated backend: nothing really rings.</summary>
    bool IsSimulated { get; }

    /// <summary>
    /// Validates and queues a call and returns at once (state <c>queued</c>); the call runs in the background
    /// and reports every change through <see cref="StateChanged"/> and <see cref="WatchAsync"/>.
    /// </summary>
    /// <exception cref="CallRequestException">A field is invalid or the destination is denied; nothing was dialled.</exception>
    /// <exception cref="CallQueueFullException">Too many calls are waiting.</exception>
    CallSnapshot Place(CallRequest request, string? callId = null);

    /// <summary>A call that is active or ended recently, or null.</summary>
    CallSnapshot? Get(string callId);

    /// <summary>Calls not yet ended, oldest first.</summary>
    IReadOnlyList<CallSnapshot> Active { get; }

    /// <summary>
    /// Hangs a call up: before answer it is cancelled (CANCEL when ringing; failed, <c>canceled</c>), after answer
    /// BYE (completed, <c>local_hangup</c>). Returns false when no such call is active. Completes when the call has ended.
    /// </summary>
    Task<bool> HangupAsync(string callId, CancellationToken ct = default);

    /// <summary>Raised for every state change of every call, in order per call, off the calls' own flow.</summary>
    event EventHandler<CallStateChange>? StateChanged;

    /// <summary>Every state change from now on, in order per call, until <paramref name="ct"/> is cancelled.</summary>
    IAsyncEnumerable<CallStateChange> WatchAsync(CancellationToken ct = default);
}
