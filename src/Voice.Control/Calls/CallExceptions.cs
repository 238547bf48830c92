namespace Voice.Control.Calls;

/// <summary>A call request was refused before anything was dialled: a field is invalid or the policy denies it.</summary>
public sealed class CallRequestException(string field, string reason, string? code = null)
    : ArgumentException($"{field}: {reason}", field)
{
    /// <summary>The request field at fault (<c>to</c>, <c>message</c>, <c>timeoutSeconds</c>…).</summary>
    public string Field { get; } = field;

    public string Reason { get; } = reason;

    /// <summary>A machine-readable code: <c>invalid</c>, or <see cref="CallReasons.DestinationDenied"/>.</summary>
    public string Code { get; } = code ?? "invalid";
}

/// <summary>The dispatcher's queue is full: try again later.</summary>
public sealed class CallQueueFullException(int capacity, TimeSpan retryAfter)
    : InvalidOperationException($"the call queue is full ({capacity} calls waiting); try again in {retryAfter.TotalSeconds:0} s")
{
    public int Capacity { get; } = capacity;

    /// <summary>A fair guess at when a place frees up, from the start rate.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>A <see cref="IOutboundCalls.WatchAsync(CancellationToken)"/> reader fell too far behind and was ended; it missed changes from here on.</summary>
public sealed class CallWatchOverflowException(int capacity)
    : Exception($"The watcher fell {capacity} state changes behind and was ended; read the calls with Get or watch again.")
{
    public int Capacity { get; } = capacity;
}
