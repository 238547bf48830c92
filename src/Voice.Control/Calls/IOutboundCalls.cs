namespace Voice.Control.Calls;

/// <summary>The library API for placing announce calls.</summary>
public interface IOutboundCalls
{
    /// <summary>True when calls go to the simulated backend: nothing really rings.</summary>
    bool IsSimulated { get; }

    /// <summary>
    /// Validates and queues a call and returns at once (state <c>queued</c>); the call runs in the background
    /// and reports every change through <see cref="StateChanged"/> and <see cref="WatchAsync(string, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="CallRequestException">A field is invalid or the destination is denied; nothing was dialled.</exception>
    /// <exception cref="CallQueueFullException">Too many calls are waiting.</exception>
    CallSnapshot Place(CallRequest request);

    /// <summary>A call that is active or ended recently, or null.</summary>
    CallSnapshot? Get(string callId);

    /// <summary>Calls not yet ended, oldest first.</summary>
    IReadOnlyList<CallSnapshot> Active { get; }

    /// <summary>
    /// Hangs a call up: before answer it is cancelled (CANCEL when ringing; failed, <c>canceled</c>), after answer
    /// BYE (completed, <c>local_hangup</c>). Returns false when no such call is active. Completes when the call has ended.
    /// </summary>
    Task<bool> HangupAsync(string callId, CancellationToken ct = default);

    /// <summary>
    /// Completes with the call's last snapshot once it has ended (at once when it already has).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such call is active or ended recently.</exception>
    Task<CallSnapshot> WaitForEndAsync(string callId, CancellationToken ct = default);

    /// <summary>
    /// Raised for every state change of every call, in order per call, on the manager's delivery loop: a handler
    /// delays later changes, so it should hand work off rather than do it. Disposing the manager from a handler
    /// (or from code that continued inline from one) does not wait for that handler.
    /// </summary>
    event EventHandler<CallStateChange>? StateChanged;

    /// <summary>
    /// Every state change of every call from the moment this is called (not from the start of enumeration), in
    /// order per call, until <paramref name="ct"/> is cancelled or the manager is disposed. The watcher holds at
    /// most <see cref="CallOptions.WatchCapacity"/> changes it has not read; one that falls that far behind is
    /// ended with <see cref="CallWatchOverflowException"/> rather than silently missing changes.
    /// </summary>
    IAsyncEnumerable<CallStateChange> WatchAsync(CancellationToken ct = default);

    /// <summary>
    /// Every state change of one call, from its first (<c>queued</c>) to its final one, then the enumeration
    /// ends: a watch started any time after <see cref="Place"/> misses nothing.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such call is active or ended recently.</exception>
    IAsyncEnumerable<CallStateChange> WatchAsync(string callId, CancellationToken ct = default);
}
