using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;
using Voice.Control.Simulation;
using Voice.Control.Tests.Calls;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Scripts;

/// <summary>The <c>dial</c> verb on the simulated backend: the magic numbers answer, are busy, hang up; a bridged party talks, then hangs up.</summary>
public class SimulatedDialTests
{
    private readonly Owned _owned = new();

    [TearDown]
    public Task Dispose() => _owned.DisposeAllAsync();

    private (CallManager Calls, ChangeLog Changes) Start(SimulationOptions? simulation = null)
    {
        var calls = new CallManager(new CallOptions { RepeatPause = TimeSpan.FromMilliseconds(10) },
            new SimulatedBackend(simulation ?? Simulations.Fast with { TalkTime = TimeSpan.FromMilliseconds(200) }), new FliteSynthesizer(), TestLog.Factory);
        _owned.Add(calls);
        return (calls, new ChangeLog(calls));
    }

    private static CallScript Script(string json) => CallScript.Parse(JsonDocument.Parse(json).RootElement);

    private static string Dial(params string[] targets) =>
        $$"""{"verb":"dial","timeout":10,"target":[{{string.Join(',', targets.Select(t => $$"""{"type":"phone","number":"{{t}}"}"""))}}]}""";

    [Test]
    public async Task A_dialled_party_that_answers_is_bridged_and_its_hang_up_ends_the_call()
    {
        var (calls, changes) = Start();
        var placed = calls.Place(new CallRequest { To = MagicNumbers.Answers, Script = Script($$"""[{{Dial(MagicNumbers.Answers)}},{"verb":"say","text":"Never said."}]""") });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That((ended.To, ended.Reason, ended.Detail), Is.EqualTo((CallState.Completed, "remote_hangup", (string?)"the dialled party hung up")));
        var dial = ended.Results.Dials.Single();
        Assert.That((dial.Verb, dial.Target, dial.Outcome, dial.SipStatus, dial.EndedBy), Is.EqualTo(("verbs[0]", MagicNumbers.Answers, "answered", (int?)200, (string?)"callee")));
        Assert.That(dial.EndedAt - dial.AnsweredAt, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150)), "they talked");
    }

    [Test]
    public async Task A_busy_target_is_reported_and_the_script_goes_on()
    {
        var (calls, changes) = Start();
        var placed = calls.Place(new CallRequest { To = MagicNumbers.Answers, Script = Script($$"""[{{Dial(MagicNumbers.Busy)}},{"verb":"say","text":"Nobody is free."}]""") });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That(ended.Reason, Is.EqualTo("announce_complete"), "the say after the dial ran");
        var dial = ended.Results.Dials.Single();
        Assert.That((dial.Outcome, dial.SipStatus, dial.AnsweredAt, dial.EndedBy), Is.EqualTo(("busy", (int?)486, (DateTimeOffset?)null, (string?)null)));
    }

    [Test]
    public async Task Targets_ring_at_once_and_the_first_to_answer_wins()
    {
        var (calls, changes) = Start();
        // +15551234567 rings for the simulation's ring time; the magic number answers at once.
        var placed = calls.Place(new CallRequest { To = MagicNumbers.Answers, Script = Script($"[{Dial(MagicNumbers.Busy, "+15551234567", MagicNumbers.Answers)}]") });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That(ended.Results.Dials.Select(d => (d.Target, d.Outcome)), Is.EquivalentTo(new[]
        {
            (MagicNumbers.Busy, "busy"), ("+15551234567", "canceled"), (MagicNumbers.Answers, "answered"),
        }));
        Assert.That(ended.Results.Dials.Single(d => d.Outcome == "canceled").Detail, Is.EqualTo("another target answered first"));
    }

    [Test]
    public async Task The_caller_hanging_up_during_the_bridge_ends_it_and_the_dialled_leg()
    {
        var (calls, changes) = Start(Simulations.Fast with { HangupAfter = TimeSpan.FromMilliseconds(300), TalkTime = TimeSpan.FromSeconds(30) });
        var placed = calls.Place(new CallRequest { To = MagicNumbers.HangsUpDuringMessage, Script = Script($"[{Dial(MagicNumbers.Answers)}]") });
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That((ended.Reason, ended.Detail), Is.EqualTo(("remote_hangup", (string?)null)));
        Assert.That((ended.Results.Dials.Single().Outcome, ended.Results.Dials.Single().EndedBy), Is.EqualTo(("answered", (string?)"caller")));
        Assert.That(ended.At - placed.CreatedAt, Is.LessThan(TimeSpan.FromSeconds(10)), "not the dialled party's 30 s");
    }

    [Test]
    public async Task Hanging_up_through_the_API_while_targets_ring_cancels_them()
    {
        var (calls, changes) = Start(Simulations.Fast with { TalkTime = TimeSpan.FromSeconds(30) });
        var placed = calls.Place(new CallRequest { To = MagicNumbers.Answers, Script = Script($"[{Dial(MagicNumbers.NeverAnswers)}]") });
        await changes.ReachAsync(placed.CallId, CallState.Playing);
        await calls.HangupAsync(placed.CallId);
        var ended = await changes.FinalAsync(placed.CallId);

        Assert.That(ended.Reason, Is.EqualTo("local_hangup"));
        Assert.That(ended.Results.Dials.Single(), Is.EqualTo(ended.Results.Dials.Single() with
        {
            Outcome = "canceled", Detail = "the call ended while it rang", AnsweredAt = null, EndedBy = null,
        }));
    }

    [TestCase("+19005550100", "destination_denied")]
    [TestCase("not a number", "invalid")]
    public void A_target_that_cannot_be_called_is_refused_before_the_call_with_its_path(string target, string code)
    {
        var (calls, _) = Start();
        var refused = Assert.Throws<CallRequestException>(() => calls.Place(new CallRequest
        {
            To = MagicNumbers.Answers,
            Script = Script($"[{{\"verb\":\"say\",\"text\":\"Connecting.\"}},{Dial(MagicNumbers.Answers, target)}]"),
        }))!;
        Assert.That((refused.Field, refused.Code), Is.EqualTo(("verbs[1].dial.target[1]", code)));
    }

    [TestCase("""{"verb":"dial","target":[]}""", "verbs[0].dial.target")]
    [TestCase("""{"verb":"dial","target":[{"type":"sip","sipUri":"sip:x@y"}]}""", "verbs[0].dial.target[0].type")]
    [TestCase("""{"verb":"dial","target":[{"type":"phone"}]}""", "verbs[0].dial.target[0].number")]
    [TestCase("""{"verb":"dial","target":[{"type":"user","name":"101","x":1}]}""", "verbs[0].dial.target[0].x")]
    [TestCase("""{"verb":"dial","target":[{"type":"phone","number":"1"}],"timeout":2}""", "verbs[0].dial.timeout")]
    [TestCase("""{"verb":"dial","target":[{"type":"phone","number":"1"}],"callerId":"a b"}""", "verbs[0].dial.callerId")]
    public void A_dial_that_cannot_run_is_refused_with_its_path(string verb, string path)
    {
        Assert.That(CallScript.TryParse(JsonDocument.Parse($"[{verb}]").RootElement, out _, out var problems), Is.False);
        Assert.That(problems.Select(p => p.Path), Does.Contain(path));
    }
}
