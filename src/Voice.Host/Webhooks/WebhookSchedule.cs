using Voice.Host.Storage;

namespace Voice.Host.Webhooks;

/// <summary>
/// Which pending webhook may go when: one queue per call in sequence order, only its head eligible, at the head's
/// due time. Not thread-safe: the sender holds its lock around every use.
/// </summary>
internal sealed class WebhookSchedule(int capacity)
{
    private readonly Dictionary<string, Queue<Outgoing>> _queues = new(StringComparer.Ordinal);
    private readonly HashSet<long> _known = [];
    private readonly PriorityQueue<string, DateTimeOffset> _due = new();
    private readonly Dictionary<string, DateTimeOffset> _dueAt = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);

    /// <summary>A webhook was left out for want of room: it waits in the outbox, to be read back once the schedule is empty.</summary>
    public bool Overflowed { get; set; }

    public bool IsEmpty => _queues.Count == 0;

    public int InFlight => _inFlight.Count;

    /// <summary>Adds a pending webhook behind its call's earlier ones (once: a re-read of the outbox may find it again).</summary>
    public void Add(WebhookDelivery delivery, DateTimeOffset due)
    {
        if (_known.Contains(delivery.Id))
        {
            return;
        }
        if (_known.Count >= capacity)
        {
            Overflowed = true;
            return;
        }
        _known.Add(delivery.Id);
        if (!_queues.TryGetValue(delivery.CallId, out var queue))
        {
            _queues[delivery.CallId] = queue = new Queue<Outgoing>();
        }
        queue.Enqueue(new Outgoing(delivery));
        if (queue.Count == 1)
        {
            Schedule(delivery.CallId, due);
        }
    }

    /// <summary>The heads due by <paramref name="now"/>, at most <paramref name="limit"/>; they count as in flight until <see cref="Finish"/>.</summary>
    public List<WebhookDelivery> TakeDue(DateTimeOffset now, int limit)
    {
        var due = new List<WebhookDelivery>();
        while (_inFlight.Count < limit && _due.TryPeek(out var callId, out var at) && at <= now)
        {
            _due.Dequeue();
            // An entry superseded by a later schedule of the same call is skipped.
            if (!_dueAt.TryGetValue(callId, out var current) || current != at || !_queues.TryGetValue(callId, out var queue))
            {
                continue;
            }
            _dueAt.Remove(callId);
            _inFlight.Add(callId);
            due.Add(queue.Peek().Delivery);
        }
        return due;
    }

    /// <summary>When the next head not in flight is due, if any.</summary>
    public DateTimeOffset? NextDue => _due.TryPeek(out _, out var at) ? at : null;

    /// <summary>
    /// A call's head finished: delivered or given up (its next one becomes due), or to be tried again at
    /// <paramref name="retryAt"/> with one attempt more.
    /// </summary>
    public void Finish(string callId, DateTimeOffset? retryAt)
    {
        _inFlight.Remove(callId);
        if (!_queues.TryGetValue(callId, out var queue))
        {
            return;
        }
        if (retryAt is { } at)
        {
            var head = queue.Peek();
            head.Delivery = head.Delivery with { Attempts = head.Delivery.Attempts + 1 };
            Schedule(callId, at);
            return;
        }
        _known.Remove(queue.Dequeue().Delivery.Id);
        if (queue.Count == 0)
        {
            _queues.Remove(callId);
            return;
        }
        Schedule(callId, DateTimeOffset.FromUnixTimeMilliseconds(queue.Peek().Delivery.CreatedAtMs));
    }

    private void Schedule(string callId, DateTimeOffset at)
    {
        _dueAt[callId] = at;
        _due.Enqueue(callId, at);
    }

    /// <summary>A pending webhook in its call's queue; its attempt count goes up with each retry.</summary>
    private sealed class Outgoing(WebhookDelivery delivery)
    {
        public WebhookDelivery Delivery { get; set; } = delivery;
    }
}
