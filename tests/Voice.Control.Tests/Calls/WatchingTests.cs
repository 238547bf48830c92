using Voice.Control.Calls;
using Voice.Control.Simulation;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Calls;

/// <summary>Following calls from .NET: watching misses nothing, a slow watcher is told, awaiting one call's end, and disposal never waits for itself.</summary>
public class WatchingTests
{
    private static readonly SimulationOptions Fast = new()
    {
        RingTime = TimeSpan.FromMilliseconds(30),
        SignallingDelay = TimeSpan.FromMilliseconds(2),
        PlaybackSpeed = 50,
    };

    private static readonly string[] AnsweredFlow = ["Queued", "Dialing", "Ringing", "Playing", "Completed"];

    private static CallManager Manager(CallOptions? options = null) =>
        new(options ?? new CallOptions { RepeatPause = TimeSpan.FromMilliseconds(10) }, new SimulatedBackend(Fast), new FliteSynthesizer(), TestLog.Factory);

    private static CallRequest Call() => new() { To = MagicNumbers.Answers, Message = "The backup failed." };

    private static async Task<List<CallStateChange>> ReadAllAsync(IAsyncEnumerable<CallStateChange> changes, Func<CallStateChange, bool>? until = null)
    {
        var read = new List<CallStateChange>();
        await foreach (var change in changes)
        {
            read.Add(change);
            if (until?.Invoke(change) == true)
            {
                break;
            }
        }
        return read;
    }

    [Test]
    public async Task Watching_one_call_reads_every_change_from_queued_to_the_end_however_late_it_starts()
    {
        await using var manager = Manager();
        var placed = manager.Place(Call());
        var early = ReadAllAsync(manager.WatchAsync(placed.CallId));
        await manager.WaitForEndAsync(placed.CallId).Within();
        var late = ReadAllAsync(manager.WatchAsync(placed.CallId)); // after the call has ended

        foreach (var watch in new[] { early, late })
        {
            var changes = await watch.Within();
            Assert.That(changes.Select(c => c.To.ToString()), Is.EqualTo(AnsweredFlow));
            Assert.That(changes.Select(c => c.Sequence), Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
        }
    }

    [Test]
    public async Task A_watch_that_is_never_read_holds_nothing_once_its_call_has_ended()
    {
        await using var manager = Manager();
        var placed = manager.Place(Call());
        _ = manager.WatchAsync(placed.CallId); // asked for, never enumerated
        await manager.WaitForEndAsync(placed.CallId).Within();
        await Poll.UntilAsync(() => manager.WatcherCount == 0);
        _ = manager.WatchAsync(placed.CallId); // after the end: nothing to register
        Assert.That(manager.WatcherCount, Is.Zero);
    }

    [Test]
    public async Task Watching_every_call_starts_when_asked_not_when_enumerated()
    {
        await using var manager = Manager();
        var watch = manager.WatchAsync();
        var placed = manager.Place(Call());
        await manager.WaitForEndAsync(placed.CallId).Within();
        var changes = await ReadAllAsync(watch, c => c.CallId == placed.CallId && c.To == CallState.Completed).Within();
        Assert.That(changes.Where(c => c.CallId == placed.CallId).Select(c => c.To.ToString()), Is.EqualTo(AnsweredFlow));
    }

    [Test]
    public async Task A_watcher_that_stops_reading_is_ended_with_an_error_that_says_so()
    {
        await using var manager = Manager(new CallOptions { RepeatPause = TimeSpan.FromMilliseconds(10), WatchCapacity = 2 });
        var watch = manager.WatchAsync();
        var placed = manager.Place(Call());
        await manager.WaitForEndAsync(placed.CallId).Within();

        var read = new List<CallStateChange>();
        var overflow = await Assert.ThrowsAsync<CallWatchOverflowException>(async () =>
        {
            await foreach (var change in watch)
            {
                read.Add(change);
            }
        });
        Assert.That(overflow!.Capacity, Is.EqualTo(2));
        Assert.That(read.Select(c => c.To.ToString()), Is.EqualTo(new[] { "Queued", "Dialing" }), "what it held, then the error: never a gap it does not know about");
    }

    [Test]
    public async Task Waiting_for_a_call_returns_its_last_snapshot_and_an_unknown_call_is_an_error()
    {
        await using var manager = Manager();
        var placed = manager.Place(Call());
        var ended = await manager.WaitForEndAsync(placed.CallId).Within();
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, "announce_complete")));
        Assert.That((await manager.WaitForEndAsync(placed.CallId).Within()).State, Is.EqualTo(CallState.Completed), "at once when it has ended");

        await Assert.ThrowsAsync<KeyNotFoundException>(() => manager.WaitForEndAsync("no-such-call"));
        Assert.Throws<KeyNotFoundException>(() => manager.WatchAsync("no-such-call"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Disposing_from_code_that_continued_inside_a_StateChanged_handler_does_not_wait_for_itself(bool blocking)
    {
        // The README's console program: a handler completes a TaskCompletionSource (continuations inline, the
        // default), and the code awaiting it disposes everything, so it runs on the manager's delivery loop.
        var manager = Manager();
        var ended = new TaskCompletionSource<CallStateChange>();
        manager.StateChanged += (_, change) =>
        {
            if (change.To is CallState.Completed or CallState.Failed)
            {
                ended.TrySetResult(change);
            }
        };
        var program = Task.Run(async () =>
        {
            manager.Place(Call());
            await ended.Task;
            if (blocking)
            {
                manager.DisposeAsync().AsTask().GetAwaiter().GetResult(); // as a synchronous Dispose would
            }
            else
            {
                await manager.DisposeAsync();
            }
        });
        await program.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.That(program.IsCompletedSuccessfully, Is.True);
    }
}
