using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;
using Voice.TestPhone;

namespace Voice.Integration.Tests;

/// <summary>
/// Calls to VoiceBridge on the real drachtio-server and FreeSWITCH: the test phone calls drachtio-server's SIP address
/// with a plain RTP/AVP offer, VoiceBridge takes the INVITE (route|invite), makes an endpoint on the stock SRTP-capable
/// profile with that offer, answers with FreeSWITCH's SDP and runs the application's script.
/// </summary>
[NonParallelizable]
public class InboundCallTests
{
    private static Task<Lab> StartAsync(string verbs) => StartAsync(new CallApplication { Script = CallScript.Parse(JsonDocument.Parse(verbs).RootElement) });

    /// <summary>The library on the lab's servers, with 4000 routed to <paramref name="alerts"/>.</summary>
    private static Task<Lab> StartAsync(CallApplication alerts) => Lab.StartAsync(calls: options => options with
    {
        Applications = new Dictionary<string, CallApplication> { ["alerts"] = alerts },
        InboundRoutes = [new InboundRoute("4000", "alerts")],
    });

    /// <summary>The test phone calls 4000 through drachtio-server; returns its call and VoiceBridge's id for it, once VoiceBridge has it.</summary>
    private static async Task<(DialledCall Call, string CallId)> CallInAsync(Lab lab, string caller = "1001", IReadOnlyList<(TimeSpan After, char Key)>? presses = null)
    {
        var arrived = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lab.Manager.CallArrived += (_, call) => arrived.TrySetResult(call.CallId);
        var call = await lab.Phone.DialAsync(lab.SipEndPoint, "4000", caller, presses);
        return (call, await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task A_plain_phone_calling_in_hears_the_message_in_plain_RTP_and_is_hung_up_after_it()
    {
        await using var lab = await StartAsync("""[{"verb":"say","text":"You reached the alert line. There are no alerts."}]""");
        var (call, callId) = await CallInAsync(lab);

        var final = await call.Final.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(final.Status, Is.EqualTo(200));
        Assert.That(call.Statuses, Does.Contain(180), "it rang while the message was rendered");
        var answer = call.AnswerSdp!;
        TestContext.Progress.WriteLine($"VoiceBridge answered: {answer.ReplaceLineEndings(" | ")}");
        Assert.That(answer, Does.Contain("RTP/AVP").And.Not.Contain("RTP/SAVP").And.Not.Contain("a=crypto"), "plain RTP for a plain phone");

        await call.HeardAsync(25, TimeSpan.FromSeconds(10));
        Assert.That(await call.Ended.WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo("bye-received"), "VoiceBridge hangs up after the script");
        var report = call.Media.Report();
        TestContext.Progress.WriteLine($"caller heard: {report}; answer to speech {call.AnswerToSpeech?.TotalMilliseconds:0} ms");
        Assert.That(report.HeardSpeech, Is.True, "speech, not SRTP noise");

        var ended = await lab.EndedAsync(callId);
        Assert.That((ended.State, ended.Reason, ended.Direction, ended.Source, ended.CallerId, ended.To),
            Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete, "inbound", "sip", "1001", "4000")));
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task The_callers_key_press_is_gathered_and_the_script_goes_on()
    {
        await using var lab = await StartAsync("""
            [{"verb":"gather","numDigits":1,"timeout":10,"say":{"text":"Press 1 to hear the alerts."}},
             {"verb":"say","text":"One alert: the disk on web one is full."}]
            """);
        var (call, callId) = await CallInAsync(lab, presses: [(TimeSpan.FromSeconds(3), '1')]);

        var ended = await lab.EndedAsync(callId, TimeSpan.FromSeconds(40));
        TestContext.Progress.WriteLine($"gathers: {string.Join(", ", ended.Results.Gathers)}; {call.Media.Report()}");
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete)));
        Assert.That(ended.Results.Gathers.Select(g => (g.Digits, g.Reason)), Is.EqualTo(new[] { ("1", "dtmfDetected") }));
        Assert.That(await call.Ended.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo("bye-received"));
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task The_caller_hanging_up_mid_message_ends_the_call_and_nothing_is_left()
    {
        await using var lab = await StartAsync($$"""[{"verb":"say","text":"{{Messages.Alert}} {{Messages.Alert}}"}]""");
        var (call, callId) = await CallInAsync(lab);
        await call.HeardAsync(10, TimeSpan.FromSeconds(10));

        Assert.That(await call.HangUpAsync(), Is.EqualTo(200));
        var ended = await lab.EndedAsync(callId);
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.RemoteHangup)));
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task A_re_INVITE_from_the_caller_reaches_FreeSWITCH_and_its_answer_comes_back()
    {
        await using var lab = await StartAsync($$"""[{"verb":"say","text":"{{Messages.Alert}} {{Messages.Alert}}"}]""");
        var (call, callId) = await CallInAsync(lab);
        await call.HeardAsync(5, TimeSpan.FromSeconds(10));

        var held = await call.ReinviteAsync(hold: true);
        TestContext.Progress.WriteLine($"hold answered: {held.Body.ReplaceLineEndings(" | ")}");
        Assert.That(held.Status, Is.EqualTo(200));
        Assert.That(held.Body, Does.Contain("a=recvonly"), "FreeSWITCH's answer to the hold, not our first SDP again");
        var resumed = await call.ReinviteAsync(hold: false);
        Assert.That((resumed.Status, resumed.Body.Contains("a=recvonly", StringComparison.Ordinal)), Is.EqualTo((200, false)));

        Assert.That(await call.HangUpAsync(), Is.EqualTo(200));
        var ended = await lab.EndedAsync(callId);
        Assert.That(ended.Reason, Is.EqualTo(CallReasons.RemoteHangup));
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task A_CANCEL_while_ringing_gets_487_and_nothing_is_left()
    {
        // The application's call hook takes the connection and never answers (a listener nobody accepts from): the call
        // rings until the phone gives up, whatever the speech cache holds.
        using var silentHook = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silentHook.Start();
        await using var lab = await StartAsync(new CallApplication { CallHook = new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)silentHook.LocalEndpoint).Port}/call") });
        var (call, callId) = await CallInAsync(lab);
        Assert.That(await call.CancelAsync(), Is.EqualTo(487));
        var ended = await lab.EndedAsync(callId);
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Failed, CallReasons.Canceled)), ended.Detail);
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task A_number_no_route_matches_is_refused_404_with_the_reason()
    {
        await using var lab = await StartAsync("""[{"verb":"say","text":"Hello."}]""");
        var call = await lab.Phone.DialAsync(lab.SipEndPoint, "4999");
        var final = await call.Final.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(final.Status, Is.EqualTo(404));
        // drachtio-server's SIP stack writes the header again, without the spaces we sent.
        Assert.That(final.Header("Reason"), Does.Contain("cause=404").And.Contain("text=\"no application for '4999'\""));
        await lab.AssertNoChannelsLeftAsync();
    }
}
