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

        var children = spans.Where(s => s.ParentSpanId == call.SpanId).OrderBy(s => s.StartTimeUtc).Select(s => s.OperationName);
        Assert.That(children, Is.EqualTo(new[] { "call.queue", "call.media", "call.invite", "call.play", "call.play" }));
        Assert.That(spans.Single(s => s.OperationName == "call.invite").GetTagItem("sip.status_code"), Is.EqualTo(200));
        Assert.That(spans.Where(s => s.OperationName == "call.play").Select(s => s.GetTagItem("voicebridge.play.repeat")), Is.EqualTo(new object[] { 1, 2 }));
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
}
