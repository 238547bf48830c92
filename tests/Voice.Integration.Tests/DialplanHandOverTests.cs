using Voice.Control.Calls;

namespace Voice.Integration.Tests;

/// <summary>
/// A channel handed over by FreeSWITCH's <c>socket</c> application, on the real FreeSWITCH: an originated channel
/// whose only application is <c>socket</c> to VoiceBridge's listener, with the dialplan's variables.
/// </summary>
[NonParallelizable]
public class DialplanHandOverTests
{
    private static async Task<CallStateChange> HandOverAsync(Lab lab, string variables)
    {
        var finals = new TaskCompletionSource<CallStateChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watch = Task.Run(async () =>
        {
            await foreach (var change in lab.Calls.WatchAsync())
            {
                if (CallStateMachine.IsFinal(change.To))
                {
                    finals.TrySetResult(change);
                    return;
                }
            }
        });
        var reply = await lab.Inspector.BackgroundApiAsync(
            $"originate {{{variables},origination_caller_id_number=1001}}null/200 '&socket({lab.Broker.AdvertisedAddress} async full)'");
        TestContext.Progress.WriteLine("originate: " + reply);
        return await finals.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task A_dialplan_hands_a_channel_over_and_VoiceBridge_says_its_text_and_hangs_it_up()
    {
        await using var lab = await Lab.StartAsync();
        var ended = await HandOverAsync(lab, "voicebridge_say='Hello from the dialplan'");
        var call = lab.Calls.Get(ended.CallId)!;
        TestContext.Progress.WriteLine($"{call.State} {call.Reason} {call.Detail} from {call.CallerId} to {call.To}");
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete)));
        Assert.That((call.Direction, call.Source), Is.EqualTo(("inbound", "freeswitch")));
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task With_on_end_park_the_channel_is_parked_for_the_dialplan_not_hung_up()
    {
        await using var lab = await Lab.StartAsync();
        var ended = await HandOverAsync(lab, "voicebridge_say='Parking you now',voicebridge_on_end=park");
        Assert.That(ended.Reason, Is.EqualTo(CallReasons.AnnounceComplete));
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            string application;
            while ((application = await CurrentApplicationAsync(lab)) != "park" && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            Assert.That(application, Is.EqualTo("park"), "the channel waits, parked, for whoever takes it next");
        }
        finally
        {
            await lab.Inspector.ApiAsync("hupall NORMAL_CLEARING");
        }
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task With_on_end_continue_the_dialplan_goes_on_after_socket()
    {
        await using var lab = await Lab.StartAsync();
        var ended = await HandOverAsync(lab, "voicebridge_say='Back to the dialplan',voicebridge_on_end=continue");
        Assert.That(ended.Reason, Is.EqualTo(CallReasons.AnnounceComplete));
        // An originated channel has nothing after its socket application: FreeSWITCH ends it itself, VoiceBridge did not.
        await lab.AssertNoChannelsLeftAsync();
    }

    /// <summary>The application the lab's only channel runs now.</summary>
    private static async Task<string> CurrentApplicationAsync(Lab lab)
    {
        var channels = (await lab.Inspector.ApiAsync("show channels as json")).Trim();
        using var json = System.Text.Json.JsonDocument.Parse(channels);
        if (!json.RootElement.TryGetProperty("rows", out var rows) || rows.GetArrayLength() == 0)
        {
            return "(no channel)";
        }
        var uuid = rows[0].GetProperty("uuid").GetString();
        return (await lab.Inspector.ApiAsync($"uuid_getvar {uuid} current_application")).Trim();
    }

    [Test]
    public async Task A_hand_over_for_an_unknown_application_is_refused_and_nothing_is_left()
    {
        await using var lab = await Lab.StartAsync();
        var ended = await HandOverAsync(lab, "voicebridge_app=sales");
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, CallReasons.NoApplication)));
        await lab.AssertNoChannelsLeftAsync();
    }
}
