using System.Collections.Concurrent;
using System.Diagnostics;
using Voice.Control.Calls;
using Voice.Control.Diagnostics;
using Voice.Control.Simulation;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Calls;

/// <summary>One trace per call: the call's span under whatever placed it, with its queue, media, INVITE and playback spans.</summary>
[NonParallelizable]
public class CallTraceTests
{
    private static readonly SimulationOptions Fast = new() { RingTime = TimeSpan.FromMilliseconds(20), SignallingDelay = TimeSpan.FromMilliseconds(2), PlaybackSpeed = 50 };

    private readonly ConcurrentQueue<Activity> _ended = new();
    private ActivityListener _listener = null!;

    [SetUp]
    public void Listen()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is VoiceActivities.SourceName or "Tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ended.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [TearDown]
    public void Stop() => _listener.Dispose();

    private async Task<(Activity Request, List<Activity> Spans)> PlaceAsync(string to, int repeat)
    {
        using var source = new ActivitySource("Tests");
        await using var manager = new CallManager(new CallOptions { RepeatPause = TimeSpan.FromMilliseconds(5) }, new SimulatedBackend(Fast), new FliteSynthesizer(), TestLog.Factory);
        Activity request;
        string callId;
        using (request = source.StartActivity("POST /api/outbound-call")!)
        {
            callId = manager.Place(new CallRequest { To = to, Message = "Disk full.", Repeat = repeat }).CallId;
        }
        await manager.WaitForEndAsync(callId).Within();
        await Poll.UntilAsync(() => _ended.Any(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == callId));
        return (request, [.. _ended.Where(a => a.TraceId == request.TraceId)]);
    }

    [Test]
    public async Task An_answered_call_is_one_trace_under_the_request_that_placed_it()
    {
        var (request, spans) = await PlaceAsync(MagicNumbers.Answers, repeat: 2);
        var call = spans.Single(s => s.OperationName == "call");
        Assert.That(call.ParentSpanId, Is.EqualTo(request.SpanId), "a child of the request that placed it");
        Assert.That(call.GetTagItem("voicebridge.call.state"), Is.EqualTo("completed"));
        Assert.That(call.GetTagItem("voicebridge.call.reason"), Is.EqualTo("announce_complete"));
        Assert.That(call.Status, Is.EqualTo(ActivityStatusCode.Ok));
        Assert.That(call.Events.Select(e => e.Name), Is.EqualTo(new[] { "queued", "dialing", "ringing", "playing", "completed" }), "when it rang, when it was answered");

        var children = spans.Where(s => s.ParentSpanId == call.SpanId).OrderBy(s => s.StartTimeUtc).Select(s => s.OperationName);
        Assert.That(children, Is.EqualTo(new[] { "call.queue", "call.media", "call.invite", "call.play", "call.play" }));
        Assert.That(spans.Single(s => s.OperationName == "call.invite").GetTagItem("sip.status_code"), Is.EqualTo(200));
        Assert.That(spans.Where(s => s.OperationName == "call.play").Select(s => s.GetTagItem("voicebridge.play.repeat")), Is.EqualTo(new object[] { 1, 2 }));
    }

    [Test]
    public async Task A_hook_is_a_span_of_the_call_and_its_request_carries_the_trace()
    {
        await using var hook = new FakeHook();
        hook.Answer("/next", status: 500);
        using var source = new ActivitySource("Tests");
        await using var manager = new CallManager(new CallOptions(), new SimulatedBackend(Fast), new FliteSynthesizer(), TestLog.Factory);
        var script = Voice.Control.Scripts.CallScript.Parse(System.Text.Json.JsonDocument.Parse($$"""[{"verb":"redirect","actionHook":"{{hook.Url("/next")}}"}]""").RootElement);
        Activity request;
        string callId;
        using (request = source.StartActivity("POST /api/outbound-call")!)
        {
            callId = manager.Place(new CallRequest { To = MagicNumbers.Answers, Script = script }).CallId;
        }
        await manager.WaitForEndAsync(callId).Within();
        await Poll.UntilAsync(() => _ended.Any(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == callId));

        var spans = _ended.Where(a => a.TraceId == request.TraceId).ToList();
        var call = spans.Single(s => s.OperationName == "call");
        var span = spans.Single(s => s.OperationName == "call.hook");
        Assert.That(span.ParentSpanId, Is.EqualTo(call.SpanId));
        Assert.That((span.Status, span.GetTagItem("http.response.status_code"), span.GetTagItem("voicebridge.hook.outcome")),
            Is.EqualTo((ActivityStatusCode.Error, (object)500, (object)"failed")));
        Assert.That(span.GetTagItem("url.full"), Is.EqualTo(hook.Url("/next").ToString()));
        Assert.That(hook.Calls.Single().TraceParent, Does.Contain(request.TraceId.ToHexString()), "the application can continue the call's trace");
    }

    [Test]
    public async Task Ending_a_traced_call_throws_nothing_behind_the_scenes()
    {
        // An ended span set current again is refused with an exception thrown and caught inside System.Diagnostics: a
        // debugger that breaks on thrown exceptions stops there on every call, and every call pays for the throw.
        var refused = new ConcurrentQueue<Exception>();
        void Note(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (e.Exception is InvalidOperationException { Source: "System.Diagnostics.DiagnosticSource" })
            {
                refused.Enqueue(e.Exception);
            }
        }
        AppDomain.CurrentDomain.FirstChanceException += Note;
        try
        {
            var (_, spans) = await PlaceAsync(MagicNumbers.Answers, repeat: 1);
            Assert.That(spans.Single(s => s.OperationName == "call").GetTagItem("voicebridge.call.state"), Is.EqualTo("completed"));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Note;
        }
        Assert.That(refused.Select(e => e.Message), Is.Empty);
    }

    [Test]
    public async Task A_busy_call_says_so_in_its_INVITE_span_and_ends_failed()
    {
        var (_, spans) = await PlaceAsync(MagicNumbers.Busy, repeat: 1);
        var invite = spans.Single(s => s.OperationName == "call.invite");
        Assert.That((invite.Status, invite.GetTagItem("sip.status_code")), Is.EqualTo((ActivityStatusCode.Error, (object)486)));
        var call = spans.Single(s => s.OperationName == "call");
        Assert.That((call.Status, call.GetTagItem("voicebridge.call.reason")), Is.EqualTo((ActivityStatusCode.Error, (object)"busy")));
        Assert.That(spans.Any(s => s.OperationName == "call.play"), Is.False);
    }

    [Test]
    public async Task A_call_hung_up_in_the_queue_is_a_trace_too_and_each_of_its_changes_names_the_calls_span()
    {
        await using var manager = new CallManager(new CallOptions { MaxConcurrentCalls = 1 }, new SimulatedBackend(Fast), new FliteSynthesizer(), TestLog.Factory);
        var changes = new ConcurrentQueue<CallStateChange>();
        manager.StateChanged += (_, change) => changes.Enqueue(change);
        var ringing = manager.Place(new CallRequest { To = MagicNumbers.NeverAnswers, Message = "First.", RingTimeout = TimeSpan.FromMinutes(1) });
        var queued = manager.Place(new CallRequest { To = MagicNumbers.Answers, Message = "Second." });
        Assert.That(manager.Get(queued.CallId)!.State, Is.EqualTo(CallState.Queued), "one call at a time");

        Assert.That(await manager.HangupAsync(queued.CallId).Within(), Is.True);
        Assert.That(await manager.HangupAsync(ringing.CallId).Within(), Is.True);
        await Poll.UntilAsync(() => _ended.Count(a => a.OperationName == "call" && ((string?)a.GetTagItem("voicebridge.call.id") is { } id) && (id == queued.CallId || id == ringing.CallId)) == 2);
        await Poll.UntilAsync(() => changes.Count(c => CallStateMachine.IsFinal(c.To)) == 2);

        var call = _ended.Single(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == queued.CallId);
        Assert.That((call.Status, call.GetTagItem("voicebridge.call.reason")), Is.EqualTo((ActivityStatusCode.Error, (object)"canceled")));
        Assert.That(_ended.Where(a => a.ParentSpanId == call.SpanId).Select(a => a.OperationName), Is.EqualTo(new[] { "call.queue" }), "its time in the queue, and nothing else");
        foreach (var (id, span) in new[] { (queued.CallId, call), (ringing.CallId, _ended.Single(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == ringing.CallId)) })
        {
            var own = changes.Where(c => c.CallId == id).ToList();
            Assert.That(own, Is.Not.Empty);
            Assert.That(own.Select(c => (c.Trace.TraceId, c.Trace.SpanId)), Is.All.EqualTo((span.TraceId, span.SpanId)), $"the changes of {id} carry its span, for the webhooks");
        }
        Assert.That(call.TraceId, Is.Not.EqualTo(_ended.Single(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == ringing.CallId).TraceId), "one trace per call");
    }
}
