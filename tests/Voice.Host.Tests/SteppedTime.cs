namespace Voice.Host.Tests;

/// <summary>
/// A clock the test sets: its time and its timestamps move only when the test says so, and its timers fire only when the
/// test fires them, showing what they were last set to.
/// </summary>
internal sealed class SteppedTime : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<Stepped> _timers = [];
    private DateTimeOffset _now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    public DateTimeOffset Now
    {
        set
        {
            lock (_lock)
            {
                _now = value;
            }
        }
        get
        {
            lock (_lock)
            {
                return _now;
            }
        }
    }

    /// <summary>The timers made so far, oldest first.</summary>
    public IReadOnlyList<Stepped> Timers
    {
        get
        {
            lock (_lock)
            {
                return [.. _timers];
            }
        }
    }

    public override DateTimeOffset GetUtcNow() => Now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Now.UtcTicks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Stepped(() => callback(state), dueTime);
        lock (_lock)
        {
            _timers.Add(timer);
        }
        return timer;
    }

    public sealed class Stepped(Action callback, TimeSpan due) : ITimer
    {
        public TimeSpan? Due { get; private set; } = due == Timeout.InfiniteTimeSpan ? null : due;

        public void Fire()
        {
            Due = null;
            callback();
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? null : dueTime;
            return true;
        }

        public void Dispose() => Due = null;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
