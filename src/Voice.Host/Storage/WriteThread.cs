namespace Voice.Host.Storage;

/// <summary>
/// A thread of the store's own that runs its write transactions one after another. A commit blocks for as long as
/// the disk takes (now and then hundreds of milliseconds), and the host runs with a small thread pool (see
/// Voice.Host.csproj): a write must never hold one of its threads. Whoever awaits a write continues on this
/// thread once it is done, unless the awaiter asked otherwise; what follows a write is short (hand the webhooks
/// over, complete a waiter), and running it here saves a hand-off per write.
/// </summary>
internal sealed class WriteThread : IDisposable
{
    private readonly object _lock = new(); // Monitor.Wait and Pulse need a monitor, which System.Threading.Lock is not
    private readonly Queue<Action> _jobs = new();
    private readonly Thread _thread;
    private bool _stopping;

    public WriteThread(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="write"/> on the thread; its result or exception is the task's (disposed: <see cref="ObjectDisposedException"/>).</summary>
    public Task<T> RunAsync<T>(Func<T> write)
    {
        var done = new TaskCompletionSource<T>();
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
        });
        return posted ? done.Task : Task.FromException<T>(new ObjectDisposedException(nameof(WriteThread), "The store is closed"));
    }

    private bool Post(Action job)
    {
        lock (_lock)
        {
            if (_stopping)
            {
                return false;
            }
            _jobs.Enqueue(job);
            if (_jobs.Count == 1)
            {
                Monitor.Pulse(_lock);
            }
            return true;
        }
    }

    private void Run()
    {
        while (true)
        {
            Action job;
            lock (_lock)
            {
                while (_jobs.Count == 0)
                {
                    if (_stopping)
                    {
                        return;
                    }
                    Monitor.Wait(_lock);
                }
                job = _jobs.Dequeue();
            }
            job();
        }
    }

    /// <summary>Runs the writes already queued, then ends the thread.</summary>
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
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }
}
