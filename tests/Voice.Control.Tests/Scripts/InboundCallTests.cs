using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;
using Voice.Control.Simulation;
using Voice.Control.Tests.Calls;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Scripts;

/// <summary>Calls that come in run their application's script: on the simulated backend, with a real HTTP call hook.</summary>
public class InboundCallTests
{
    private readonly Owned _owned = new();

    [TearDown]
    public Task Dispose() => _owned.DisposeAllAsync();

    private static CallScript Script(string json) => CallScript.Parse(JsonDocument.Parse(json).RootElement);

    private (CallManager Calls, ChangeLog Changes, SimulatedBackend Backend, FakeHook Hook) Start(
        Func<FakeHook, Dictionary<string, CallApplication>> applications, int maxConcurrentCalls = 50, Func<CallOptions, CallOptions>? options = null)
    {
        var hook = _owned.Add(new FakeHook());
        var backend = new SimulatedBackend(Simulations.Fast);
        var callOptions = new CallOptions
        {
            RepeatPause = TimeSpan.FromMilliseconds(10),
            HookTimeout = TimeSpan.FromSeconds(1),
            MaxConcurrentCalls = maxConcurrentCalls,
            Applications = applications(hook),
        };
        var calls = _owned.Add(new CallManager(options?.Invoke(callOptions) ?? callOptions, backend, new FliteSynthesizer(), TestLog.Factory));
        return (calls, new ChangeLog(calls), backend, hook);
    }

    private static InboundCallInfo From(string caller, string? application = null) => new()
    {
        From = caller, To = "200", Source = "simulated", Application = application,
        Variables = new Dictionary<string, string> { ["X-Ticket"] = "INC-7" },
    };

    [Test]
    public async Task A_call_to_a_static_application_is_answered_and_runs_its_script()
    {
        var (calls, changes, backend, _) = Start(_ => new() { ["default"] = new CallApplication { Script = Script("""[{"verb":"say","text":"You reached the alert line."}]""") } });
        var leg = backend.CallIn("+15551230001");
        var placed = calls.Accept(From("+15551230001"), leg);
        Assert.That((placed.State, placed.Direction, placed.Source, placed.CallerId, placed.To), Is.EqualTo((CallState.Ringing, "inbound", "simulated", "+15551230001", "200")));

        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That(changes.Of(placed.CallId).Select(c => c.To), Is.EqualTo(new[] { CallState.Ringing, CallState.Playing, CallState.Completed }));
        Assert.That(ended.Reason, Is.EqualTo("announce_complete"));
        Assert.That(leg.Answered, Is.True);
        var snapshot = calls.Get(placed.CallId)!;
        Assert.That((snapshot.Application, snapshot.Message), Is.EqualTo(("default", "You reached the alert line.")));
    }

    [Test]
    public async Task A_call_for_an_application_that_does_not_exist_is_refused_with_404_and_the_reason()
    {
        var (calls, changes, backend, _) = Start(_ => []);
        var leg = backend.CallIn("+15551230001");
        var placed = calls.Accept(From("+15551230001", "sales"), leg);
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason, ended.SipStatus, ended.Detail), Is.EqualTo((CallState.Failed, "no_application", (int?)404, "no application named 'sales'")));
        Assert.That(leg.Refused, Is.EqualTo(((int, string)?)(404, "no application named 'sales'")));
        Assert.That(leg.Answered, Is.False);
    }

    [Test]
    public async Task Accept_tells_the_call_as_it_came_in_even_when_its_refusal_is_done_before_Accept_returns()
    {
        // The worst case of the race a busy host meets: the run Accept starts goes as far as it can before Accept
        // returns (here: the context runs posted work at once, so the refusal is done first).
        var (calls, changes, backend, _) = Start(_ => []);
        var leg = backend.CallIn("+15551230001");
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(new InlineContext());
        CallSnapshot placed;
        try
        {
            placed = calls.Accept(From("+15551230001", "sales"), leg);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
        Assert.That(leg.Refused?.Status, Is.EqualTo(404), "the refusal ran before Accept returned");
        Assert.That(placed.State, Is.EqualTo(CallState.Ringing));
        Assert.That((await changes.FinalAsync(placed.CallId)).Reason, Is.EqualTo("no_application"));
    }

    private sealed class InlineContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) => d(state);
    }

    [Test]
    public async Task A_call_hook_is_told_the_call_and_its_verbs_run_with_the_callers_keys()
    {
        var (calls, changes, backend, hook) = Start(h => new() { ["alerts"] = new CallApplication { CallHook = h.Url("/call") } });
        hook.Answer("/call", """[{"verb":"gather","numDigits":1,"say":{"text":"Press 1 to hear the alerts."}},{"verb":"say","text":"No alerts."}]""");
        var leg = backend.CallIn("+15005551102");
        var placed = calls.Accept(From("+15005551102", "alerts"), leg);

        var ended = await changes.FinalAsync(placed.CallId);
        var told = hook.Calls.Single().Body;
        Assert.That((told.GetProperty("verb").GetString(), told.GetProperty("direction").GetString(), told.GetProperty("source").GetString()),
            Is.EqualTo(("call", "inbound", "simulated")));
        Assert.That((told.GetProperty("from").GetString(), told.GetProperty("to").GetString(), told.GetProperty("application").GetString()),
            Is.EqualTo(("+15005551102", "200", "alerts")));
        Assert.That(told.GetProperty("variables").GetProperty("X-Ticket").GetString(), Is.EqualTo("INC-7"));
        Assert.That(told.GetProperty("callId").GetString(), Is.EqualTo(placed.CallId));
        Assert.That((ended.Reason, ended.Results.Digits), Is.EqualTo(("announce_complete", "1")));
        Assert.That(ended.Results.Hooks.Single().Outcome, Is.EqualTo("replaced"));
    }

    [TestCase(500, "", "the application's call hook failed: the hook answered 500")]
    [TestCase(200, "", "the application's call hook answered no verbs")]
    [TestCase(200, "[{\"verb\":\"sing\"}]", "the application's call hook failed: the answer is not a verb list")]
    public async Task A_failing_call_hook_gets_the_fallback_said_and_the_call_hung_up_with_the_reason(int status, string body, string detail)
    {
        var (calls, changes, backend, hook) = Start(h => new()
        {
            ["alerts"] = new CallApplication { CallHook = h.Url("/call"), Fallback = Script("""[{"verb":"say","text":"The alert line is down."},{"verb":"dtmf","dtmf":"0"}]""") },
        });
        hook.Answer("/call", body, status);
        var leg = backend.CallIn("+15551230001");
        var placed = calls.Accept(From("+15551230001", "alerts"), leg);
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "application_failed")));
        Assert.That(ended.Detail, Does.StartWith(detail));
        Assert.That(ended.Results.DigitsSent, Is.EqualTo(new[] { "0" }), "the fallback ran: never a silent line");
        Assert.That(leg.Answered, Is.True);
    }

    [Test]
    public async Task The_caller_hanging_up_mid_script_completes_the_call_as_their_hang_up()
    {
        var (calls, changes, backend, _) = Start(_ => new() { ["default"] = new CallApplication { Script = Script("""[{"verb":"pause","length":30}]""") } });
        var leg = backend.CallIn(MagicNumbers.HangsUpDuringMessage);
        var placed = calls.Accept(From(MagicNumbers.HangsUpDuringMessage), leg);
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, "remote_hangup")));
        Assert.That(leg.Refused, Is.Null);
    }

    [Test]
    public async Task The_caller_hanging_up_before_the_answer_ends_the_call_as_canceled()
    {
        var (calls, changes, backend, hook) = Start(h => new() { ["default"] = new CallApplication { CallHook = h.Url("/slow") } });
        hook.Answer("/slow", """[{"verb":"say","text":"Too late."}]""", delay: TimeSpan.FromSeconds(10));
        var leg = backend.CallIn("+15551230001");
        var placed = calls.Accept(From("+15551230001"), leg);
        leg.HangUp(); // while its application's hook is still being asked (it answers only after 10 s)
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason, ended.Detail), Is.EqualTo((CallState.Failed, "canceled", "the caller hung up before the answer")));
        Assert.That((leg.Answered, leg.Refused), Is.EqualTo((false, ((int, string)?)null)), "nothing to refuse: the caller is gone");
    }

    [Test]
    public async Task A_call_beyond_the_concurrency_limit_is_refused_with_503()
    {
        var (calls, changes, backend, _) = Start(_ => new() { ["default"] = new CallApplication { Script = Script("""[{"verb":"pause","length":30}]""") } }, maxConcurrentCalls: 1);
        var first = calls.Accept(From("+15551230001"), backend.CallIn("+15551230001"));
        await changes.ReachAsync(first.CallId, CallState.Playing);
        var leg = backend.CallIn("+15551230002");
        var second = calls.Accept(From("+15551230002"), leg);
        var refused = await changes.FinalAsync(second.CallId);
        Assert.That((refused.Reason, refused.SipStatus), Is.EqualTo(("service_unavailable", (int?)503)));
        Assert.That(leg.Refused?.Status, Is.EqualTo(503));
        Assert.That(leg.Refused?.Reason, Does.Contain("limit of 1"));
        Assert.That(await calls.HangupAsync(first.CallId), Is.True, "the first goes on until hung up through the API");
        Assert.That((await changes.FinalAsync(first.CallId)).Reason, Is.EqualTo("local_hangup"));
    }

    [Test]
    public async Task A_caller_on_the_deny_list_is_refused_with_403()
    {
        var (calls, changes, backend, _) = Start(_ => new() { ["default"] = new CallApplication { Script = Script("""[{"verb":"say","text":"Hi."}]""") } },
            options: o => o with { DeniedCallers = ["+1900*", "anonymous"] });
        var leg = backend.CallIn("+19005550100");
        var refused = await changes.FinalAsync(calls.Accept(From("+19005550100"), leg).CallId);
        Assert.That((refused.Reason, refused.SipStatus, refused.Detail), Is.EqualTo(("caller_denied", (int?)403, "the caller is on the deny list")));
        Assert.That((leg.Refused?.Status, leg.Answered), Is.EqualTo(((int?)403, false)));
        var allowed = await changes.FinalAsync(calls.Accept(From("+15551230001"), backend.CallIn("+15551230001")).CallId);
        Assert.That(allowed.Reason, Is.EqualTo("announce_complete"));
    }

    [Test]
    public async Task A_caller_over_the_rate_limit_is_refused_with_486_and_others_are_not()
    {
        var (calls, changes, backend, _) = Start(_ => new() { ["default"] = new CallApplication { Script = Script("""[{"verb":"say","text":"Hi."}]""") } },
            options: o => o with { InboundCallsPerCallerPerMinute = 2 });
        var reasons = new List<string?>();
        for (var i = 0; i < 3; i++)
        {
            reasons.Add((await changes.FinalAsync(calls.Accept(From("+15551230001"), backend.CallIn("+15551230001")).CallId)).Reason);
        }
        Assert.That(reasons, Is.EqualTo(new[] { "announce_complete", "announce_complete", "caller_limited" }));
        var leg = backend.CallIn("+15551230001");
        var limited = await changes.FinalAsync(calls.Accept(From("+15551230001"), leg).CallId);
        Assert.That((limited.SipStatus, leg.Refused?.Status), Is.EqualTo(((int?)486, (int?)486)));
        Assert.That((await changes.FinalAsync(calls.Accept(From("+15551230002"), backend.CallIn("+15551230002")).CallId)).Reason, Is.EqualTo("announce_complete"),
            "another caller is not limited");
    }

    [Test]
    public void An_application_with_both_a_script_and_a_hook_or_a_bad_name_is_refused_at_start()
    {
        var both = new CallOptions { Applications = new Dictionary<string, CallApplication> { ["x"] = new() { Script = Script("""[{"verb":"hangup"}]"""), CallHook = new Uri("https://example.com/") } } };
        Assert.That(both.Validate, Throws.ArgumentException.With.Message.Contains("both a script and a callHook"));
        var name = new CallOptions { Applications = new Dictionary<string, CallApplication> { ["bad name"] = new() { Script = Script("""[{"verb":"hangup"}]""") } } };
        Assert.That(name.Validate, Throws.ArgumentException.With.Message.Contains("'bad name'"));
    }
}
