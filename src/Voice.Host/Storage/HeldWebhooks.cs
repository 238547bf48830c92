using System.Collections.Concurrent;

namespace Voice.Host.Storage;

/// <summary>
/// The outbox rows of the calls this process accepted, kept in memory from the call's insert until it has ended
/// and none of its webhooks is pending. A call's webhooks are read on every GET of it, and clients poll a running
/// call once a second: from here that read is a copy of a short list, not a query.
/// </summary>
/// <remarks>
/// Rows are added once their transaction has committed, and a delivery attempt the moment it is queued for writing
/// (<see cref="CallStore.QueueAttempt"/>): this view is never behind the outbox, and ahead of it only by
/// outcomes not yet written (which a crash would send again). Calls not held here (accepted before a restart, or
/// beyond <see cref="MaxCalls"/>) are read from the database.
/// </remarks>
internal sealed class HeldWebhooks
{
    /// <summary>Calls held at most; later ones are read from the database until some end.</summary>
    public const int MaxCalls = 10_000;

    private readonly ConcurrentDictionary<string, Call> _calls = new(StringComparer.Ordinal);
    private int _count; // kept apart: ConcurrentDictionary.Count takes every lock of the dictionary

    /// <summary>Starts holding a call that was just written (it has no webhook yet).</summary>
    public void Hold(string callId)
    {
        if (Interlocked.Increment(ref _count) > MaxCalls || !_calls.TryAdd(callId, new Call()))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Stops holding a call (withdrawn, or ended with every webhook settled).</summary>
    public void Release(string callId)
    {
        if (_calls.TryRemove(callId, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>A webhook written to the outbox.</summary>
    public void Written(WebhookDelivery delivery)
    {
        if (_calls.TryGetValue(delivery.CallId, out var call))
        {
            lock (call.Lock)
            {
                call.Rows.Add((delivery.Id, new WebhookState(
                    (int)delivery.Sequence, delivery.Event, "pending", 0, null, null, DateTimeOffset.FromUnixTimeMilliseconds(delivery.CreatedAtMs), null)));
            }
        }
    }

    /// <summary>The call reached its final state: it is released once no webhook of it is pending.</summary>
    public void Ended(string callId)
    {
        if (_calls.TryGetValue(callId, out var call))
        {
            lock (call.Lock)
            {
                call.Ended = true;
            }
            ReleaseIfSettled(callId, call);
        }
    }

    /// <summary>How a delivery attempt went, as the outbox will have it once written.</summary>
    public void Attempted(string callId, WebhookAttempt attempt)
    {
        if (!_calls.TryGetValue(callId, out var call))
        {
            return;
        }
        lock (call.Lock)
        {
            var index = call.Rows.FindIndex(r => r.Id == attempt.Id);
            if (index < 0)
            {
                return;
            }
            var row = call.Rows[index].State;
            call.Rows[index] = (attempt.Id, row with
            {
                Status = attempt.Status,
                Attempts = row.Attempts + 1,
                LastHttpStatus = attempt.HttpStatus,
                LastError = attempt.Error,
                NextAttemptAt = attempt.Status == "pending" ? Stored(attempt.RetryAt) ?? row.NextAttemptAt : null,
                DeliveredAt = attempt.Status == "delivered" ? Stored(attempt.At) : row.DeliveredAt,
            });
        }
        ReleaseIfSettled(callId, call);
    }

    /// <summary>The call's webhooks in order, or null when the call is not held (read the database).</summary>
    public IReadOnlyList<WebhookState>? Get(string callId)
    {
        if (!_calls.TryGetValue(callId, out var call))
        {
            return null;
        }
        lock (call.Lock)
        {
            return [.. call.Rows.Select(r => r.State)];
        }
    }

    /// <summary>A time as the outbox stores it: whole milliseconds.</summary>
    private static DateTimeOffset? Stored(DateTimeOffset? at) => at is { } t ? DateTimeOffset.FromUnixTimeMilliseconds(t.ToUnixTimeMilliseconds()) : null;

    private void ReleaseIfSettled(string callId, Call call)
    {
        lock (call.Lock)
        {
            if (!call.Ended || call.Rows.Exists(r => r.State.Status == "pending"))
            {
                return;
            }
        }
        Release(callId);
    }

    private sealed class Call
    {
        public Lock Lock { get; } = new();

        public List<(long Id, WebhookState State)> Rows { get; } = [];

        public bool Ended { get; set; }
    }
}
