using System.Collections.Concurrent;

namespace Voice.Host.Storage;

/// <summary>
/// The outbox rows of the calls this process accepted, and each call's alert, kept in memory from the call's insert
/// until <see cref="KeptAfterSettled"/> after it has ended with none of its webhooks pending. A call's webhooks are read
/// on every GET of it, and clients poll a running call once a second: from here that read is a copy of a short list,
/// not a query, also for the poll that finds the call ended.
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

    /// <summary>
    /// How long a call stays held once it has ended and its webhooks are settled: clients polling once a second see the
    /// end from memory too, instead of with two reads of the database (on the lab's real servers, one poll in seven).
    /// </summary>
    public static readonly TimeSpan KeptAfterSettled = TimeSpan.FromSeconds(15);

    private readonly ConcurrentDictionary<string, Call> _calls = new(StringComparer.Ordinal);
    private int _count; // kept apart: ConcurrentDictionary.Count takes every lock of the dictionary
    private readonly TimeProvider _time;
    private readonly Lock _settledLock = new();
    private readonly Queue<(string CallId, long At)> _settled = new();

    public HeldWebhooks(TimeProvider time) => _time = time;

    /// <summary>Starts holding a call that was just written (it has no webhook yet), of <paramref name="alertId"/> when an alert placed it.</summary>
    public void Hold(string callId, string? alertId)
    {
        ReleaseSettled();
        if (Interlocked.Increment(ref _count) > MaxCalls || !_calls.TryAdd(callId, new Call { AlertId = alertId }))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Whether the call is held; if so, <paramref name="alertId"/> is the alert that placed it (null: none).</summary>
    public bool TryGetAlert(string callId, out string? alertId)
    {
        alertId = _calls.TryGetValue(callId, out var call) ? call.AlertId : null;
        return call is not null;
    }

    /// <summary>Stops holding a call (withdrawn, or settled <see cref="KeptAfterSettled"/> ago).</summary>
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
            if (!call.Ended || call.Settled || call.Rows.Exists(r => r.State.Status == "pending"))
            {
                return;
            }
            call.Settled = true;
        }
        lock (_settledLock)
        {
            _settled.Enqueue((callId, _time.GetTimestamp()));
        }
    }

    /// <summary>Releases the calls settled <see cref="KeptAfterSettled"/> ago or longer.</summary>
    private void ReleaseSettled()
    {
        var now = _time.GetTimestamp();
        lock (_settledLock)
        {
            while (_settled.TryPeek(out var settled) && _time.GetElapsedTime(settled.At, now) >= KeptAfterSettled)
            {
                _settled.Dequeue();
                Release(settled.CallId);
            }
        }
    }

    private sealed class Call
    {
        public Lock Lock { get; } = new();

        public string? AlertId { get; init; }

        /// <summary>Ended with no webhook pending: queued for release.</summary>
        public bool Settled { get; set; }

        public List<(long Id, WebhookState State)> Rows { get; } = [];

        public bool Ended { get; set; }
    }
}
