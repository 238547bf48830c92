namespace Voice.Host.Storage;

/// <summary>
/// A thread of the store's own that runs its write transactions one after another. A commit blocks for as long as
/// the disk takes (now and then hundreds of milliseconds), and the host runs with a small thread pool (see
/// Voice.Host.csproj): a write must never hold one of its threads. Whoever awaits a write continues on the pool,
/// never on this thread; the recorder's writes, the frequent ones, run as jobs here and need no awaiting.
/// </summary>
/// <remarks>
/// A job may ask for a window first (<see cref="Post"/>): the thread waits that long for more work to join it
/// (group commit), unless <see cref="Hurry"/> ends the wait. On the system clock that is a timed wait of this
/// thread, which needs no timer thread and no hand-off; another clock (tests) drives it with its own timer.
/// A job may also wait until later (<see cref="Defer"/>) without holding up the jobs behind it: the thread's own wait
/// ends when it is due, in the same way.
/// </remarks>
internal sealed class WriteThread : IDisposable
{
    private readonly object _lock = new(); // Monitor.Wait and Pulse need a monitor, which System.Threading.Lock is not
    private readonly Queue<(Action Job, TimeSpan Window)> _jobs = new();
    private readonly List<(long DueMs, Action Job, ITimer? Timer)> _deferred = [];
    private readonly TimeProvider _time;
    private readonly Thread _thread;
    private bool _hurry;
    private bool _stopping;

    public WriteThread(string name, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>True on the thread itself.</summary>
    public bool IsCurrent => Thread.CurrentThread == _thread;

    /// <summary>Runs <paramref name="write"/> on the thread; its result or exception is the task's (disposed: <see cref="ObjectDisposedException"/>).</summary>
    public Task<T> RunAsync<T>(Func<T> write)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var posted = Post(() =>
        {
            T result;
            try
            {
                result = write();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
                return;
            }
            done.SetResult(result);
        }, TimeSpan.Zero);
        return posted ? done.Task : Task.FromException<T>(new ObjectDisposedException(nameof(WriteThread), "The store is closed"));
    }

    /// <summary>
    /// Queues <paramref name="job"/>, which must not throw; once it is next, the thread first waits up to
    /// <paramref name="window"/> (or until <see cref="Hurry"/>). False once the thread is stopping.
    /// </summary>
    public bool Post(Action job, TimeSpan window)
    {
        lock (_lock)
        {
            if (_stopping)
            {
                return false;
            }
            _jobs.Enqueue((job, window));
            if (_jobs.Count == 1)
            {
                Monitor.Pulse(_lock);
            }
            return true;
        }
    }

    /// <summary>
    /// Runs <paramref name="job"/>, which must not throw, on the thread once <paramref name="delay"/> has passed; the jobs
    /// posted meanwhile go ahead of it. Closing runs it at once. False once the thread is stopping.
    /// </summary>
    public bool Defer(Action job, TimeSpan delay)
    {
        lock (_lock)
        {
            if (_stopping)
            {
                return false;
            }
            // Another clock (tests) says when with a timer of its own, which wakes the thread; the system's needs none.
            var timer = _time == TimeProvider.System ? null : _time.CreateTimer(_ => Wake(), null, delay, Timeout.InfiniteTimeSpan);
            _deferred.Add((NowMs() + (long)Math.Ceiling(delay.TotalMilliseconds), job, timer));
            Monitor.Pulse(_lock);
            return true;
        }
    }

    private long NowMs() => _time == TimeProvider.System ? Environment.TickCount64 : _time.GetUtcNow().ToUnixTimeMilliseconds();

    private void Wake()
    {
        lock (_lock)
        {
            Monitor.Pulse(_lock);
        }
    }

    /// <summary>The deferred job that is due (all of them once stopping), taken off the list; null when none is. Under the lock.</summary>
    private Action? TakeDeferred()
    {
        var next = -1;
        for (var i = 0; i < _deferred.Count; i++)
        {
            if (next < 0 || _deferred[i].DueMs < _deferred[next].DueMs)
            {
                next = i;
            }
        }
        if (next < 0 || (!_stopping && _deferred[next].DueMs > NowMs()))
        {
            return null;
        }
        var (_, job, timer) = _deferred[next];
        _deferred.RemoveAt(next);
        timer?.Dispose();
        return job;
    }

    /// <summary>Waits, holding the lock (which the wait releases), for a job, or until the next deferred one is due.</summary>
    private void WaitForWork()
    {
        if (_deferred.Count == 0 || _time != TimeProvider.System)
        {
            Monitor.Wait(_lock);
            return;
        }
        var due = _deferred.Min(d => d.DueMs);
        Monitor.Wait(_lock, (int)Math.Clamp(due - NowMs(), 1, int.MaxValue));
    }

    /// <summary>Ends the window the thread waits in, or the next one: someone waits for the write.</summary>
    public void Hurry()
    {
        lock (_lock)
        {
            _hurry = true;
            Monitor.Pulse(_lock);
        }
    }

    private void Run()
    {
        while (true)
        {
            Action? job;
            lock (_lock)
            {
                while ((job = TakeDeferred()) is null && _jobs.Count == 0)
                {
                    if (_stopping)
                    {
                        return;
                    }
                    WaitForWork();
                }
                if (job is null)
                {
                    (job, var window) = _jobs.Dequeue();
                    if (window > TimeSpan.Zero)
                    {
                        // A hurry that came while other jobs ran is for this window: it ends it, and is used up.
                        WaitWindow(window);
                        _hurry = false;
                    }
                }
            }
            job();
        }
    }

    /// <summary>Waits, holding the lock (which the wait releases), until the window passes, <see cref="Hurry"/>, or the thread stops.</summary>
    private void WaitWindow(TimeSpan window)
    {
        if (_time == TimeProvider.System)
        {
            var until = Environment.TickCount64 + (long)Math.Ceiling(window.TotalMilliseconds);
            while (!_hurry && !_stopping && until - Environment.TickCount64 is > 0 and var left)
            {
                Monitor.Wait(_lock, (int)left);
            }
            return;
        }
        using var timer = _time.CreateTimer(_ => Hurry(), null, window, Timeout.InfiniteTimeSpan);
        while (!_hurry && !_stopping)
        {
            Monitor.Wait(_lock);
        }
    }

    /// <summary>Runs the writes already queued (without their windows) and the deferred ones, then ends the thread.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_stopping)
            {
                return;
            }
            _stopping = true;
            Monitor.Pulse(_lock);
        }
        if (!IsCurrent)
        {
            _thread.Join();
        }
    }
}
