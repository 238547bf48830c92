namespace Voice.Control.Calls;

/// <summary>
/// How many calls each caller made in the last window, to refuse one over the limit. Each caller's recent calls are
/// kept as their times; callers not heard from for a window are forgotten when the table is next looked through.
/// </summary>
internal sealed class CallerRate(int limit, TimeSpan window)
{
    private readonly Dictionary<string, Queue<DateTimeOffset>> _calls = new(StringComparer.OrdinalIgnoreCase);
    private DateTimeOffset _lastSweep;

    /// <summary>Counts a call from <paramref name="caller"/> at <paramref name="now"/>; false (and not counted) when it is over the limit.</summary>
    public bool TryTake(string caller, DateTimeOffset now)
    {
        if (limit == 0)
        {
            return true;
        }
        lock (_calls)
        {
            if (now - _lastSweep > window)
            {
                _lastSweep = now;
                foreach (var (old, times) in _calls.Where(c => c.Value.Count == 0 || now - c.Value.Last() >= window).ToList())
                {
                    _calls.Remove(old);
                }
            }
            if (!_calls.TryGetValue(caller, out var recent))
            {
                _calls[caller] = recent = new Queue<DateTimeOffset>();
            }
            while (recent.Count > 0 && now - recent.Peek() >= window)
            {
                recent.Dequeue();
            }
            if (recent.Count >= limit)
            {
                return false;
            }
            recent.Enqueue(now);
            return true;
        }
    }
}
