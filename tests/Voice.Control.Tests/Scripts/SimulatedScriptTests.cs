using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;
using Voice.Control.Simulation;
using Voice.Control.Tests.Calls;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Scripts;

/// <summary>Scripts and the acknowledge shorthand on the simulated backend: the magic numbers press keys, hooks are real HTTP.</summary>
public class SimulatedScriptTests
{
    private readonly Owned _owned = new();

    [TearDown]
    public Task Dispose() => _owned.DisposeAllAsync();

    private (CallManager Calls, ChangeLog Changes, FakeHook Hook) Start()
    {
        var hook = new FakeHook();
        _owned.Add(hook);
        var calls = new CallManager(new CallOptions { RepeatPause = TimeSpan.FromMilliseconds(10), HookTimeout = TimeSpan.FromSeconds(1) },
            new SimulatedBackend(Simulations.Fast), new FliteSynthesizer(), TestLog.Factory);
        _owned.Add(calls);
        return (calls, new ChangeLog(calls), hook);
    }

    private static CallScript Script(string json) => CallScript.Parse(JsonDocument.Parse(json).RootElement);

    private static CallRequest Alert(string to, int tries = 3) => new()
    {
        To = to,
        Message = "Disk full on db-01.",
        Acknowledge = new Acknowledgement { Tries = tries },
    };

    [Test]
    public async Task A_callee_pressing_the_digit_acknowledges_the_alert()
    {
        var (calls, changes, _) = Start();
        var placed = calls.Place(Alert("+15005551102"));
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "announce_complete")));
        Assert.That((ended.Results.Acknowledged, ended.Results.Digits), Is.EqualTo(((bool?)true, "1")));
        Assert.That(calls.Get(placed.CallId)!.Results.Acknowledged, Is.True);
        Assert.That(changes.Of(placed.CallId).Take(4).Select(c => c.Results.Acknowledged), Has.All.Null, "unknown until the key or the end");
    }

    [Test]
    public async Task Asking_to_hear_it_again_replays_the_message_before_the_digit_acknowledges()
    {
        var (calls, changes, _) = Start();
        var placed = calls.Place(Alert("+15005551212"));
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That(ended.Results.Gathers.Select(g => (g.Try, g.Digits)), Is.EqualTo(new[] { (1, "2"), (2, "1") }));
        Assert.That((ended.Results.Acknowledged, ended.Results.Digits), Is.EqualTo(((bool?)true, "21")));
    }

    [Test]
    public async Task Nobody_pressing_anything_leaves_the_alert_not_acknowledged_after_its_tries()
    {
        var (calls, changes, _) = Start();
        var placed = calls.Place(Alert(MagicNumbers.Answers, tries: 2));
        var ended = await changes.FinalAsync(placed.CallId, TimeSpan.FromSeconds(20));
        Assert.That(ended.Results.Acknowledged, Is.False);
        Assert.That(ended.Results.Gathers.Select(g => g.Reason), Is.EqualTo(new[] { "timeout", "timeout" }));
        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
    }

    [TestCase(MagicNumbers.HangsUpDuringMessage, "remote_hangup")]
    [TestCase(MagicNumbers.Busy, "busy")]
    public async Task An_alert_that_ends_before_the_digit_is_not_acknowledged(string to, string reason)
    {
        var (calls, changes, _) = Start();
        var placed = calls.Place(Alert(to));
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.Reason, ended.Results.Acknowledged), Is.EqualTo((reason, (bool?)false)));
    }

    [Test]
    public async Task A_redirect_hook_gets_the_tag_and_its_verbs_run_until_their_hangup()
    {
        var (calls, changes, hook) = Start();
        hook.Answer("/next", """[{"verb":"dtmf","dtmf":"1w2"},{"verb":"hangup"},{"verb":"dtmf","dtmf":"9"}]""");
        var placed = calls.Place(new CallRequest
        {
            To = MagicNumbers.Answers,
            Tag = "ticket-7",
            Script = Script($$$"""[{"verb":"tag","data":{"ticket":7,"team":"ops"}},{"verb":"redirect","actionHook":"{{{hook.Url("/next")}}}"}]"""),
        });
        var ended = await changes.FinalAsync(placed.CallId);

        var told = hook.Calls.Single().Body;
        Assert.That(told.GetProperty("verb").GetString(), Is.EqualTo("redirect"));
        Assert.That(told.GetProperty("tag").GetProperty("team").GetString(), Is.EqualTo("ops"), "the tag verb's data");
        Assert.That(told.TryGetProperty("digits", out _), Is.False);
        Assert.That(ended.Results.DigitsSent, Is.EqualTo(new[] { "1w2" }), "nothing after the hangup");
        Assert.That(ended.Tag, Is.EqualTo("""{"ticket":7,"team":"ops"}"""));
        Assert.That(changes.Of(placed.CallId)[0].Tag, Is.EqualTo("ticket-7"), "the request's tag until the verb ran");
        Assert.That(calls.Get(placed.CallId)!.Tag, Is.EqualTo("""{"ticket":7,"team":"ops"}"""));
    }

    [Test]
    public async Task A_gather_a_hook_answered_with_is_named_by_its_place_in_that_answer()
    {
        var (calls, changes, hook) = Start();
        hook.Answer("/next", """[{"verb":"pause","length":0.1},{"verb":"gather","numDigits":1}]""");
        var placed = calls.Place(new CallRequest
        {
            To = "+15005551102",
            Script = Script($$"""[{"verb":"redirect","actionHook":"{{hook.Url("/next")}}"}]"""),
        });
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That(ended.Results.Gathers.Select(g => (g.Verb, g.Digits)), Is.EqualTo(new[] { ("answers[0].verbs[1]", "1") }));
    }

    [TestCase(500, "", "the hook answered 500")]
    [TestCase(200, "{\"verb\":\"say\"}", "the answer is not a verb list: answer: must be a list of verbs")]
    [TestCase(200, "[{\"verb\":\"sing\"}]", "the answer is not a verb list: answer[0].verb:")]
    [TestCase(200, "<html>", "the answer is not JSON")]
    public async Task A_hook_that_fails_is_reported_and_the_script_goes_on(int status, string body, string detail)
    {
        var (calls, changes, hook) = Start();
        hook.Answer("/broken", body, status);
        var placed = calls.Place(new CallRequest
        {
            To = MagicNumbers.Answers,
            Script = Script($$"""[{"verb":"redirect","actionHook":"{{hook.Url("/broken")}}"},{"verb":"dtmf","dtmf":"5"}]"""),
        });
        var ended = await changes.FinalAsync(placed.CallId);
        var result = ended.Results.Hooks.Single();
        Assert.That(result.Outcome, Is.EqualTo("failed"));
        Assert.That(result.Detail, Does.StartWith(detail));
        Assert.That(ended.Results.DigitsSent, Is.EqualTo(new[] { "5" }), "the script went on");
    }

    [Test]
    public async Task A_hook_that_keeps_redirecting_to_itself_ends_the_call_after_the_limit()
    {
        var (calls, changes, hook) = Start();
        hook.Answer("/loop", $$"""[{"verb":"redirect","actionHook":"{{hook.Url("/loop")}}"}]""");
        var placed = calls.Place(new CallRequest
        {
            To = MagicNumbers.Answers,
            Script = Script($$"""[{"verb":"redirect","actionHook":"{{hook.Url("/loop")}}"},{"verb":"dtmf","dtmf":"1"}]"""),
        });
        var ended = await changes.FinalAsync(placed.CallId, TimeSpan.FromSeconds(30));
        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
        Assert.That(hook.Calls, Has.Count.EqualTo(ScriptRunner.MaxHookCalls));
        Assert.That(ended.Results.Hooks, Has.Count.EqualTo(ScriptRunner.MaxHookCalls + 1));
        Assert.That(ended.Results.Hooks[^1].Detail, Does.Contain("50 hooks already"));
        Assert.That(ended.Results.DigitsSent, Is.Empty, "the script ended there");
    }

    [Test]
    public async Task An_empty_answer_continues_the_script_and_gather_results_reach_the_hook()
    {
        var (calls, changes, hook) = Start();
        hook.Answer("/gathered");
        var placed = calls.Place(new CallRequest
        {
            To = "+15005551402",
            Script = Script($$$"""
                [{"verb":"gather","numDigits":1,"say":{"text":"Press a key."},"actionHook":"{{{hook.Url("/gathered")}}}"},
                 {"verb":"gather","numDigits":1,"timeout":1,"tries":2,"invalidSay":{"text":"I did not get that."}},
                 {"verb":"dtmf","dtmf":"0"}]
                """),
        });
        var ended = await changes.FinalAsync(placed.CallId, TimeSpan.FromSeconds(20));
        var told = hook.Calls.Single().Body;
        Assert.That((told.GetProperty("digits").GetString(), told.GetProperty("reason").GetString()), Is.EqualTo(("4", "dtmfDetected")));
        Assert.That(ended.Results.Hooks.Single().Outcome, Is.EqualTo("continued"));
        Assert.That(ended.Results.Gathers.Select(g => (g.Verb, g.Try, g.Digits, g.Reason)), Is.EqualTo(new[]
        {
            ("verbs[0]", 1, "4", "dtmfDetected"), ("verbs[1]", 1, "", "timeout"), ("verbs[1]", 2, "", "timeout"),
        }), "the second gather tried twice (the number presses nothing the second time)");
        Assert.That(ended.Results.DigitsSent, Is.EqualTo(new[] { "0" }));
    }

    [Test]
    public void A_request_is_refused_when_its_script_and_its_shorthands_conflict_or_the_acknowledgement_is_wrong()
    {
        var (calls, _, _) = Start();
        var script = Script("""[{"verb":"say","text":"Hi"}]""");
        var both = Assert.Throws<CallRequestException>(() => calls.Place(new CallRequest { To = MagicNumbers.Answers, Message = "Hi", Script = script }));
        Assert.That(both!.Field, Is.EqualTo("message"));
        var neither = Assert.Throws<CallRequestException>(() => calls.Place(new CallRequest { To = MagicNumbers.Answers }));
        Assert.That(neither!.Field, Is.EqualTo("message"));
        var digit = Assert.Throws<CallRequestException>(() => calls.Place(Alert(MagicNumbers.Answers) with { Acknowledge = new Acknowledgement { Digit = 'x' } }));
        Assert.That(digit!.Field, Is.EqualTo("acknowledge.digit"));
        var same = Assert.Throws<CallRequestException>(() => calls.Place(Alert(MagicNumbers.Answers) with { Acknowledge = new Acknowledgement { Digit = '1', RepeatDigit = '1' } }));
        Assert.That(same!.Field, Is.EqualTo("acknowledge.repeatDigit"));
        Assert.That(calls.Active, Is.Empty, "nothing was placed");
    }
}
