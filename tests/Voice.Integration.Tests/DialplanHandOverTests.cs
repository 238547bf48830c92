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
    public async Task A_hand_over_for_an_unknown_application_is_refused_and_nothing_is_left()
    {
        await using var lab = await Lab.StartAsync();
        var ended = await HandOverAsync(lab, "voicebridge_app=sales");
        Assert.That((ended.To, ended.Reason), Is.EqualTo((CallState.Failed, CallReasons.NoApplication)));
        await lab.AssertNoChannelsLeftAsync();
    }
}
