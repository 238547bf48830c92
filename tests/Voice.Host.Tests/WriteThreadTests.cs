using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>The store's write thread: writes run one at a time, in order, off the thread pool, and none is lost at close.</summary>
public class WriteThreadTests
{
    [Test]
    public async Task Writes_run_in_order_on_a_thread_of_their_own_and_report_their_outcome()
    {
        using var thread = new WriteThread("test writer");
        var order = new List<int>();
        var threads = new HashSet<int>();
        var pooled = false;
        var writes = Enumerable.Range(0, 50).Select(i => thread.RunAsync(() =>
        {
            order.Add(i);
            threads.Add(Environment.CurrentManagedThreadId);
            pooled |= Thread.CurrentThread.IsThreadPoolThread;
            return i * 2;
        })).ToList();
        var failed = thread.RunAsync<int>(() => throw new IOException("disk full"));

        Assert.That(await Task.WhenAll(writes), Is.EqualTo(Enumerable.Range(0, 50).Select(i => i * 2)));
        Assert.That(Thread.CurrentThread.Name, Is.Not.EqualTo("test writer"), "whoever awaits a write goes on off the write thread");
        Assert.That(order, Is.EqualTo(Enumerable.Range(0, 50)), "in the order they were asked for");
        Assert.That(threads, Has.Count.EqualTo(1), "one thread");
        Assert.That(threads, Does.Not.Contain(Environment.CurrentManagedThreadId));
        Assert.That(pooled, Is.False, "a commit that waits for the disk must not hold a pool thread");
        Assert.That(async () => await failed, Throws.TypeOf<IOException>().With.Message.EqualTo("disk full"));
    }

    [Test]
    public async Task Closing_finishes_the_writes_already_asked_for_and_refuses_later_ones()
    {
        var thread = new WriteThread("test writer");
        using var release = new ManualResetEventSlim();
        var blocked = thread.RunAsync(() => release.Wait(TimeSpan.FromSeconds(10)));
        var queued = thread.RunAsync(() => "written");

        var closing = Task.Run(thread.Dispose);
        release.Set();
        await closing.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(await blocked, Is.True);
        Assert.That(await queued, Is.EqualTo("written"));
        Assert.That(async () => await thread.RunAsync(() => 1), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public async Task A_deferred_write_runs_on_the_thread_once_its_delay_has_passed()
    {
        using var thread = new WriteThread("test writer");
        string? ranOn = null;

        Assert.That(thread.Defer(() => Volatile.Write(ref ranOn, Thread.CurrentThread.Name), TimeSpan.FromMilliseconds(50)), Is.True);

        await HostFactory.Eventually(async () => Volatile.Read(ref ranOn) is not null, "the deferred write ran");
        Assert.That(ranOn, Is.EqualTo("test writer"));
    }

    [Test]
    public async Task A_deferred_write_holds_up_none_of_the_writes_asked_for_after_it_and_closing_runs_it_at_once()
    {
        var thread = new WriteThread("test writer");
        var deferredRan = false;
        thread.Defer(() => Volatile.Write(ref deferredRan, true), TimeSpan.FromMinutes(10));

        Assert.That(await thread.RunAsync(() => "written").WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo("written"), "a later write is not held up");
        Assert.That(Volatile.Read(ref deferredRan), Is.False, "the deferred write waits for its time");

        await Task.Run(thread.Dispose).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(Volatile.Read(ref deferredRan), Is.True, "closing runs it: nothing deferred is lost");
        Assert.That(thread.Defer(() => { }, TimeSpan.Zero), Is.False, "refused once closed");
    }
}
