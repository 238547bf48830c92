using Voice.Control.Calls;
using Voice.Control.Simulation;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Calls;

/// <summary>The orchestrator on the simulated backend: every magic number reaches its outcome through the real state flow.</summary>
public class SimulatedCallTests
{
    private static readonly SimulationOptions Fast = new()
    {
        RingTime = TimeSpan.FromMilliseconds(60),
        SignallingDelay = TimeSpan.FromMilliseconds(5),
        HangupAfter = TimeSpan.FromMilliseconds(40),
        PlaybackSpeed = 20,
    };

    private readonly List<CallManager> _managers = [];

    [TearDown]
    public async Task Dispose()
    {
        foreach (var manager in _managers)
        {
            await manager.DisposeAsync();
        }
        _managers.Clear();
    }

    private (CallManager Manager, ChangeLog Changes) Manager(CallOptions? options = null, ISpeechSynthesizer? speech = null)
    {
        var manager = new CallManager(options ?? new CallOptions { RepeatPause = TimeSpan.FromMilliseconds(10) }, new SimulatedBackend(Fast), speech ?? new FliteSynthesizer(), TestLog.Factory);
        _managers.Add(manager);
        return (manager, new ChangeLog(manager));
    }

    private static CallRequest Call(string to, string message = "The backup on nas-01 failed twice tonight.") => new() { To = to, Message = message };

    [TestCase(MagicNumbers.Answers, new[] { "Queued", "Dialing", "Ringing", "Playing", "Completed" }, "announce_complete", 200)]
    [TestCase("+15551234567", new[] { "Queued", "Dialing", "Ringing", "Playing", "Completed" }, "announce_complete", 200)]
    [TestCase("101", new[] { "Queued", "Dialing", "Ringing", "Playing", "Completed" }, "announce_complete", 200)]
    [TestCase(MagicNumbers.EarlyMedia, new[] { "Queued", "Dialing", "Ringing", "Playing", "Completed" }, "announce_complete", 200)]
    [TestCase(MagicNumbers.Busy, new[] { "Queued", "Dialing", "Failed" }, "busy", 486)]
    [TestCase(MagicNumbers.NotFound, new[] { "Queued", "Dialing", "Failed" }, "not_found", 404)]
    [TestCase(MagicNumbers.Rejected, new[] { "Queued", "Dialing", "Failed" }, "rejected", 603)]
    [TestCase(MagicNumbers.Unavailable, new[] { "Queued", "Dialing", "Failed" }, "service_unavailable", 503)]
    [TestCase(MagicNumbers.AuthFails, new[] { "Queued", "Dialing", "Failed" }, "auth_failed", 407)]
    [TestCase(MagicNumbers.HangsUpDuringMessage, new[] { "Queued", "Dialing", "Ringing", "Playing", "Completed" }, "remote_hangup", 200)]
    [TestCase(MagicNumbers.MediaFails, new[] { "Queued", "Dialing", "Ringing", "Playing", "Failed" }, "media_error", 200)]
    public async Task Each_magic_number_reaches_its_outcome(string to, string[] states, string reason, int sipStatus)
    {
        var (manager, changes) = Manager();
        var placed = manager.Place(Call(to) with { Tag = "{\"alert\":42}" });
        Assert.That(placed.State, Is.EqualTo(CallState.Queued));
        Assert.That(placed.Simulated, Is.True);

        var ended = await changes.FinalAsync(placed.CallId);
        var seen = changes.Of(placed.CallId);
        Assert.That(seen.Select(c => c.To.ToString()), Is.EqualTo(states));
        Assert.That(seen.Select(c => c.Sequence), Is.EqualTo(Enumerable.Range(1, states.Length)));
        Assert.That(seen, Has.All.Matches<CallStateChange>(c => c!.Simulated && c.Tag == "{\"alert\":42}"));
        Assert.That(ended.Reason, Is.EqualTo(reason));

        var snapshot = manager.Get(placed.CallId)!;
        Assert.That(snapshot.Reason, Is.EqualTo(reason));
        Assert.That(snapshot.SipStatus, Is.EqualTo(sipStatus));
        Assert.That(snapshot.EndedAt, Is.Not.Null);
        Assert.That(snapshot.Duration is null, Is.EqualTo(!states.Contains("Playing")), "a duration exactly when it was answered");
        Assert.That(manager.Active, Is.Empty);
    }

    [Test]
    public async Task An_ended_call_is_forgotten_after_the_retention_and_a_running_one_is_kept()
    {
        var (manager, changes) = Manager(new CallOptions { RepeatPause = TimeSpan.FromMilliseconds(10), EndedCallRetention = TimeSpan.FromMilliseconds(100) });
        var ended = manager.Place(Call(MagicNumbers.Busy));
        await changes.FinalAsync(ended.CallId);
        var running = manager.Place(Call(MagicNumbers.NeverAnswers) with { RingTimeout = TimeSpan.FromSeconds(60) });
        Assert.That(manager.Get(ended.CallId), Is.Not.Null, "readable once ended");

        // Ended calls are looked over as calls are placed, at most once a second.
        await Poll.UntilAsync(() =>
        {
            manager.Place(Call(MagicNumbers.Busy));
            return manager.Get(ended.CallId) is null;
        });
        Assert.That(manager.Get(running.CallId)?.State, Is.EqualTo(CallState.Ringing).Or.EqualTo(CallState.Dialing), "a running call is kept however long it runs");
    }

    [Test]
    [CancelAfter(20_000)]
    public async Task A_number_that_never_answers_is_cancelled_at_the_ring_timeout()
    {
        var (manager, changes) = Manager();
        var placed = manager.Place(Call(MagicNumbers.NeverAnswers) with { RingTimeout = TimeSpan.FromSeconds(5) });
        var ended = await changes.FinalAsync(placed.CallId, TimeSpan.FromSeconds(10));
        Assert.That(ended.To, Is.EqualTo(CallState.Failed));
        Assert.That(ended.Reason, Is.EqualTo("no_answer"));
        Assert.That(ended.At - changes.Of(placed.CallId)[1].At, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(4.9)));
    }

    [Test]
    public async Task Hanging_up_while_ringing_cancels_and_while_playing_hangs_up()
    {
        var (manager, changes) = Manager();
        var ringing = manager.Place(Call(MagicNumbers.NeverAnswers));
        await changes.ReachAsync(ringing.CallId, CallState.Ringing);
        Assert.That(await manager.HangupAsync(ringing.CallId).Within(), Is.True);
        Assert.That(manager.Get(ringing.CallId)!.Reason, Is.EqualTo("canceled"));
        Assert.That(manager.Get(ringing.CallId)!.State, Is.EqualTo(CallState.Failed));

        var playing = manager.Place(Call(MagicNumbers.Answers, string.Concat(Enumerable.Repeat("A long message. ", 60))));
        await changes.ReachAsync(playing.CallId, CallState.Playing);
        Assert.That(await manager.HangupAsync(playing.CallId).Within(), Is.True);
        var ended = manager.Get(playing.CallId)!;
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, "local_hangup")));
        Assert.That(await manager.HangupAsync(playing.CallId), Is.False, "already ended");
        Assert.That(await manager.HangupAsync("no-such-call"), Is.False);
    }

    [Test]
    public async Task The_maximum_duration_ends_an_answered_call()
    {
        var (manager, changes) = Manager();
        var placed = manager.Place(Call(MagicNumbers.Answers, string.Concat(Enumerable.Repeat("A long message. ", 60))) with { MaxDuration = TimeSpan.FromMilliseconds(100), Repeat = 5 });
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "max_duration")));
    }

    [Test]
    public async Task Calls_over_the_concurrency_limit_wait_in_order_and_a_full_queue_refuses()
    {
        var (manager, changes) = Manager(new CallOptions { MaxConcurrentCalls = 2, MaxQueuedCalls = 3, CallsPerSecond = 1000 });
        var long1 = manager.Place(Call(MagicNumbers.NeverAnswers));
        var long2 = manager.Place(Call(MagicNumbers.NeverAnswers));
        await changes.ReachAsync(long1.CallId, CallState.Ringing);
        await changes.ReachAsync(long2.CallId, CallState.Ringing);
        var waiting = new[] { manager.Place(Call(MagicNumbers.Answers)), manager.Place(Call(MagicNumbers.Busy)) };
        await Task.Delay(100);
        Assert.That(waiting.Select(w => manager.Get(w.CallId)!.State), Is.All.EqualTo(CallState.Queued), "both slots are taken");
        Assert.That(manager.Active.Select(a => a.CallId), Is.EqualTo(new[] { long1.CallId, long2.CallId, waiting[0].CallId, waiting[1].CallId }));

        manager.Place(Call(MagicNumbers.Answers)); // the third queued call: the queue is now full
        var full = Assert.Throws<CallQueueFullException>(() => manager.Place(Call(MagicNumbers.Answers)));
        Assert.That(full!.Message, Does.Contain("queue is full"));

        await manager.HangupAsync(long1.CallId).Within();
        await changes.ReachAsync(waiting[0].CallId, CallState.Dialing);
        Assert.That(manager.Get(waiting[1].CallId)!.State, Is.EqualTo(CallState.Queued), "one freed slot starts one call, the first in line");
        await manager.HangupAsync(waiting[1].CallId).Within();
        Assert.That(manager.Get(waiting[1].CallId)!.Reason, Is.EqualTo("canceled"), "hung up while queued");
    }

    [Test]
    public async Task Starts_are_paced_to_the_configured_rate()
    {
        var (manager, changes) = Manager(new CallOptions { CallsPerSecond = 10 });
        var calls = Enumerable.Range(0, 4).Select(_ => manager.Place(Call(MagicNumbers.Busy))).ToList();
        foreach (var call in calls)
        {
            await changes.FinalAsync(call.CallId);
        }
        var starts = calls.Select(c => changes.Of(c.CallId).Single(x => x.To == CallState.Dialing).At).ToList();
        // Each start is stamped when its call gets to run, a little after the dispatcher let it go, so one gap can
        // look short on a busy machine; the span of four starts cannot be shorter than three intervals.
        Assert.That(starts, Is.Ordered);
        Assert.That(starts[^1] - starts[0], Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(3 * 95)));
    }

    [Test]
    public async Task The_message_is_rendered_when_dialling_starts_not_after_the_answer()
    {
        var speech = new SpySynthesizer();
        var (manager, changes) = Manager(speech: speech);
        changes.OnChange = c => speech.Note($"state {c.To}");
        var placed = manager.Place(Call("+15551234567"));
        await changes.FinalAsync(placed.CallId);

        var order = speech.Events;
        Assert.That(order.IndexOf("synthesize"), Is.LessThan(order.IndexOf("state Ringing")), string.Join(", ", order));
        Assert.That(order.IndexOf("state Dialing"), Is.LessThan(order.IndexOf("synthesize")).Or.LessThan(order.IndexOf("state Ringing")));
        Assert.That(manager.Get(placed.CallId)!.SpeechProvider, Is.EqualTo("flite"));
    }

    [Test]
    public async Task A_message_that_cannot_be_rendered_stops_the_call_before_anyone_answers()
    {
        // The spy lets any voice through when the call is placed; flite refuses it when it renders.
        var (manager, changes) = Manager(speech: new SpySynthesizer());
        var placed = manager.Place(Call(MagicNumbers.NeverAnswers) with { Voice = "no-such-voice" });
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, "media_error")));
        Assert.That(manager.Get(placed.CallId)!.Detail, Does.Contain("could not be rendered").And.Contains("no-such-voice"));
    }

    [TestCase("to", "", "empty")]
    [TestCase("to", "+1555", "ten digits")]
    [TestCase("to", "+19005551234", "denied")]
    [TestCase("message", "", "required")]
    [TestCase("message", "long", "at most 1000")]
    [TestCase("timeoutSeconds", "3", "between 5 and 120")]
    [TestCase("timeoutSeconds", "121", "between 5 and 120")]
    [TestCase("repeat", "6", "between 1 and 5")]
    [TestCase("callerId", "+1555\r\nVia: x", "phone number or SIP user")]
    [TestCase("headers", "Via", "only X- headers")]
    [TestCase("headers", "X-Alert\nvalue", "'X-Alert'")]
    [TestCase("voice", "kal|evil", "voice name")]
    [TestCase("voice", "no-such-voice", "flite has no voice 'no-such-voice'; it has kal")]
    public void Invalid_requests_are_refused_by_field_before_anything_is_queued(string field, string value, string reason)
    {
        var (manager, changes) = Manager();
        var request = Call(MagicNumbers.Answers);
        request = field switch
        {
            "to" => request with { To = value },
            "message" => request with { Message = value == "long" ? new string('a', 1001) : value },
            "timeoutSeconds" => request with { RingTimeout = TimeSpan.FromSeconds(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)) },
            "repeat" => request with { Repeat = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            "callerId" => request with { CallerId = value },
            "headers" => value.Contains('\n') ? request with { Headers = new Dictionary<string, string> { ["X-Alert"] = value } } : request with { Headers = new Dictionary<string, string> { [value] = "1" } },
            "voice" => request with { Voice = value },
            _ => request,
        };
        var ex = Assert.Throws<CallRequestException>(() => manager.Place(request));
        Assert.That(ex!.Field, Is.EqualTo(field));
        Assert.That(ex.Message, Does.Contain(reason));
        Assert.That(manager.Active, Is.Empty);
        Assert.That(changes.All, Is.Empty);
    }
}
