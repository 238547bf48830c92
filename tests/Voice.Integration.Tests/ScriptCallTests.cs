using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;
using Voice.TestPhone;

namespace Voice.Integration.Tests;

/// <summary>
/// Call scripts against the real drachtio-server and FreeSWITCH: the test phone presses keys as RFC 4733 events in its
/// RTP stream, and FreeSWITCH's play_and_get_digits decides what it collected.
/// </summary>
[NonParallelizable]
public class ScriptCallTests
{
    [Test]
    public async Task A_wrong_key_then_the_right_one_acknowledges_an_alert()
    {
        await using var lab = await Lab.StartAsync();
        var (call, phone) = await lab.PlaceAsync(new CallRequest
        {
            To = "+15551230101",
            Message = "Disk full on db one.",
            Acknowledge = new Acknowledgement { Tries = 3, Timeout = TimeSpan.FromSeconds(10) },
            RingTimeout = TimeSpan.FromSeconds(8),
        }, PhoneBehaviour.Answering with { Presses = [(TimeSpan.FromSeconds(6), '3'), (TimeSpan.FromSeconds(14), '1')] });

        var ended = await lab.EndedAsync(call.CallId, TimeSpan.FromSeconds(60));

        TestContext.Progress.WriteLine($"gathers: {string.Join(", ", ended.Results.Gathers)}; {phone.Media.Report()}");
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete)));
        Assert.That(ended.Results.Gathers.Select(g => (g.Try, g.Digits, g.Reason)), Is.EqualTo(new[] { (1, "3", "dtmfDetected"), (2, "1", "dtmfDetected") }));
        Assert.That(ended.Results.Acknowledged, Is.True);
        Assert.That(phone.Media.Report().HeardSpeech, Is.True);
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task Digits_sent_by_a_dtmf_verb_reach_the_phone_as_RFC_4733_events()
    {
        await using var lab = await Lab.StartAsync();
        var script = CallScript.Parse(JsonDocument.Parse("""[{"verb":"say","text":"Dialling the menu."},{"verb":"dtmf","dtmf":"1w2#","duration":120}]""").RootElement);
        var (call, phone) = await lab.PlaceAsync(new CallRequest { To = "+15551230102", Script = script, RingTimeout = TimeSpan.FromSeconds(8) }, PhoneBehaviour.Answering);

        var ended = await lab.EndedAsync(call.CallId);

        TestContext.Progress.WriteLine($"{phone.Media.Report()}; keys {phone.Media.KeysHeard}; offered {phone.OfferedSdp}");
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete)));
        Assert.That(ended.Results.DigitsSent, Is.EqualTo(new[] { "1w2#" }));
        Assert.That(phone.Media.KeysHeard, Is.EqualTo("12#"), "FreeSWITCH sent each key as a telephone-event");
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task The_callee_hanging_up_during_a_gather_ends_the_call_and_leaves_nothing_behind()
    {
        await using var lab = await Lab.StartAsync();
        var script = CallScript.Parse(JsonDocument.Parse("""[{"verb":"gather","numDigits":4,"timeout":20,"say":{"text":"Enter your code."}}]""").RootElement);
        var (call, phone) = await lab.PlaceAsync(new CallRequest { To = "+15551230103", Script = script, RingTimeout = TimeSpan.FromSeconds(8) },
            PhoneBehaviour.Answering with { HangUpAfter = TimeSpan.FromSeconds(4) });

        var ended = await lab.EndedAsync(call.CallId);

        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.RemoteHangup)));
        Assert.That(ended.Results.Gathers.Select(g => g.Reason), Is.EqualTo(new[] { "hangup" }));
        Assert.That(await phone.Ended, Is.Not.Empty);
        await lab.AssertNoChannelsLeftAsync();
    }
}
