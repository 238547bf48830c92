using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Calls;
using Voice.Host.Storage;
using Voice.Host.Webhooks;

namespace Voice.Host.Tests;

/// <summary>The recorder's group commit: writes that come close together share a transaction; a waiting reader does not wait for more.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class RecorderTests(Engine engine)
{
    private sealed class Recording : IAsyncDisposable
    {
        private readonly TestDatabase _database;

        public Recording(Engine engine)
        {
            _database = new TestDatabase(engine);
            Store = _database.Open(Time);
            Sender = new WebhookSender(Store, new WebhookOptions { Secret = [1, 2, 3], Destinations = new(["loopback"]) }, Time, NullLogger<WebhookSender>.Instance);
            Recorder = new CallRecorder(Calls, Store, new StorageOptions(TimeSpan.FromDays(1)), queued =>
            {
                Interlocked.Exchange(ref _duringWrite, null)?.Invoke();
                Sender.Enqueue(queued);
            }, Time, NullLogger<CallRecorder>.Instance);
        }

        private Action? _duringWrite;

        /// <summary>Runs once, on the write thread, as the next batch that queues a webhook has committed and before the writer looks for more.</summary>
        public Action DuringWrite
        {
            set => _duringWrite = value;
        }

        public HeldTimers Time { get; } = new();

        public RaisedCalls Calls { get; } = new();

        public CallStore Store { get; }

        public WebhookSender Sender { get; }

        public CallRecorder Recorder { get; }

        public async Task StartAsync()
        {
            await Store.InitializeAsync();
            await Recorder.StartAsync(CancellationToken.None);
        }

        public async ValueTask DisposeAsync()
        {
            Time.Fire(CallRecorder.BatchWindow); // a test that failed may have left the writer waiting
            await Recorder.StopAsync(CancellationToken.None);
            Recorder.Dispose();
            Sender.Dispose();
            Store.Dispose();
            _database.Dispose();
        }
    }

    private static NewCall Call(string callId) => new(new CallRecord
    {
        CallId = callId, To = "+15005550000", Message = "Hello", State = "queued", CreatedAt = DateTimeOffset.UtcNow,
        RequestJson = """{"to":"+15005550000","message":"Hello"}""",
    });

    [Test]
    public async Task Writes_that_arrive_while_the_writer_waits_share_one_commit()
    {
        await using var recording = new Recording(engine);
        await recording.StartAsync();
        var commits = recording.Store.Database.Commits;

        Assert.That(recording.Recorder.Accept(Call("grouped")));
        var window = await recording.Time.SetAsync(CallRecorder.BatchWindow);
        var now = DateTimeOffset.UtcNow;
        recording.Calls.Raise(new CallStateChange("grouped", 1, null, CallState.Queued, now));
        recording.Calls.Raise(new CallStateChange("grouped", 2, CallState.Queued, CallState.Dialing, now));
        Assert.That(recording.Store.Database.Commits, Is.EqualTo(commits), "nothing is written while the window is open");
        window.Fire();

        // A write is visible to readers a moment before the writer counts its commit: wait for both.
        await HostFactory.Eventually(async () => (await recording.Store.GetAsync("grouped"))?.State == "dialing" && recording.Store.Database.Commits > commits,
            "the call and both changes are written");
        Assert.That(recording.Store.Database.Commits - commits, Is.EqualTo(1), "one commit for the call and its two changes");
    }

    [Test]
    public async Task Writes_that_arrive_while_a_batch_is_written_wait_a_window_of_their_own()
    {
        await using var recording = new Recording(engine);
        await recording.StartAsync();
        var commits = recording.Store.Database.Commits;
        var now = DateTimeOffset.UtcNow;
        recording.DuringWrite = () => recording.Calls.Raise(new CallStateChange("busy-writer", 2, CallState.Queued, CallState.Dialing, now));

        Assert.That(recording.Recorder.Accept(Call("busy-writer") with { Call = Call("busy-writer").Call with { WebhookUrl = "http://127.0.0.1:9/hook" } }));
        var first = await recording.Time.SetAsync(CallRecorder.BatchWindow);
        recording.Calls.Raise(new CallStateChange("busy-writer", 1, null, CallState.Queued, now));
        first.Fire();
        await HostFactory.Eventually(async () => (await recording.Store.GetAsync("busy-writer"))?.State == "queued" && recording.Store.Database.Commits > commits,
            "the first batch is written");

        var second = await recording.Time.SetAsync(CallRecorder.BatchWindow);
        Assert.That((recording.Store.Database.Commits - commits, (await recording.Store.GetAsync("busy-writer"))?.State), Is.EqualTo((1L, "queued")),
            "the change that came during the write waits for others to join it instead of taking a commit of its own at once");
        second.Fire();
        await HostFactory.Eventually(async () => (await recording.Store.GetAsync("busy-writer"))?.State == "dialing" && recording.Store.Database.Commits - commits > 1,
            "written once its window has passed");
        Assert.That(recording.Store.Database.Commits - commits, Is.EqualTo(2));
    }

    [Test]
    public async Task A_reader_waiting_for_the_writes_ends_the_wait_for_more()
    {
        await using var recording = new Recording(engine);
        await recording.StartAsync();

        Assert.That(recording.Recorder.Accept(Call("read-soon")));
        await recording.Time.SetAsync(CallRecorder.BatchWindow);
        // The window's timer never fires in this test: only the reader can end the wait.
        await recording.Recorder.WrittenAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That((await recording.Store.GetAsync("read-soon"))?.State, Is.EqualTo("queued"));
    }

    [Test]
    public async Task A_write_the_database_refuses_for_good_is_dropped_and_the_writes_after_it_go_on()
    {
        await using var recording = new Recording(engine);
        await recording.StartAsync();
        await recording.Store.InsertAsync(Call("taken").Call);

        // The same call id again: a constraint the database will refuse however often it is asked.
        Assert.That(recording.Recorder.Accept(Call("taken")));
        await recording.Recorder.WrittenAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(recording.Recorder.Accept(Call("after")));
        await recording.Recorder.WrittenAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(await recording.Store.GetAsync("after"), Is.Not.Null, "written: the refused batch did not hold the writer");
        Assert.That(recording.Recorder.Failing, Is.False, "not an outage: new calls are still taken");
    }

    /// <summary>The library's calls, reduced to the event the recorder listens to.</summary>
    private sealed class RaisedCalls : IOutboundCalls
    {
        public bool IsSimulated => true;

        public IReadOnlyList<CallSnapshot> Active => [];

        public event EventHandler<CallStateChange>? StateChanged;

        public void Raise(CallStateChange change) => StateChanged?.Invoke(this, change);

        public CallSnapshot Place(CallRequest request) => throw new NotSupportedException();

        public Task<CallSnapshot> WaitForEndAsync(string callId, CancellationToken ct = default) => throw new NotSupportedException();

        public IAsyncEnumerable<CallStateChange> WatchAsync(string callId, CancellationToken ct = default) => throw new NotSupportedException();

        public CallSnapshot? Get(string callId) => null;

        public Task<bool> HangupAsync(string callId, CancellationToken ct = default) => Task.FromResult(false);

        public IAsyncEnumerable<CallStateChange> WatchAsync(CancellationToken ct = default) => throw new NotSupportedException();
    }

    /// <summary>Real clock, but timers fire only when the test says so; a test can wait for one of a given due time to be set.</summary>
    private sealed class HeldTimers : TimeProvider
    {
        private readonly Lock _lock = new();
        private readonly List<Held> _timers = [];
        private readonly List<(TimeSpan Due, TaskCompletionSource<Held> Set)> _waiting = [];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new Held(callback, state, dueTime);
            lock (_lock)
            {
                _timers.Add(timer);
                foreach (var waiter in _waiting.Where(w => w.Due == dueTime).ToList())
                {
                    _waiting.Remove(waiter);
                    waiter.Set.TrySetResult(timer);
                }
            }
            return timer;
        }

        /// <summary>Completes once a timer due after <paramref name="due"/> is set (from now on).</summary>
        public Task<Held> SetAsync(TimeSpan due)
        {
            var set = new TaskCompletionSource<Held>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_timers.FirstOrDefault(t => t.Due == due && !t.Fired) is { } already)
                {
                    return Task.FromResult(already);
                }
                _waiting.Add((due, set));
            }
            return set.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }

        public void Fire(TimeSpan due)
        {
            List<Held> timers;
            lock (_lock)
            {
                timers = [.. _timers.Where(t => t.Due == due)];
            }
            foreach (var timer in timers)
            {
                timer.Fire();
            }
        }

        public sealed class Held(TimerCallback callback, object? state, TimeSpan due) : ITimer
        {
            private int _fired;

            public TimeSpan Due => due;

            public bool Fired => Volatile.Read(ref _fired) == 1;

            public void Fire()
            {
                if (Interlocked.Exchange(ref _fired, 1) == 0)
                {
                    callback(state);
                }
            }

            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose() => Interlocked.Exchange(ref _fired, 1);

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
