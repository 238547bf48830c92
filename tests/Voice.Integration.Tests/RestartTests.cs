using Microsoft.Extensions.Logging;
using Voice.Control.Calls;
using Voice.TestPhone;

namespace Voice.Integration.Tests;

/// <summary>
/// The servers restarted under VoiceBridge, with the stop and start commands from the environment
/// (<c>VB_IT_DRACHTIO_STOP</c>/<c>_START</c>, <c>VB_IT_FREESWITCH_STOP</c>/<c>_START</c>).
/// </summary>
[NonParallelizable]
public class RestartTests
{
    [Test]
    public async Task After_FreeSWITCH_restarts_between_calls_the_next_call_is_heard()
    {
        var settings = LabSettings.Require();
        await using var lab = await Lab.StartAsync();
        var (first, _) = await lab.DialAsync("+15551230011", PhoneBehaviour.Answering);
        await lab.EndedAsync(first.CallId);

        await LabSettings.RunAsync(settings.FreeSwitchStop, "VB_IT_FREESWITCH_STOP");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (lab.Media.Status.Single().Problem is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.That(lab.Media.Status.Single().Problem, Does.Contain("Event Socket").And.Contain("not connected"), "what /readyz reports while it is down");
        await LabSettings.RunAsync(settings.FreeSwitchStart, "VB_IT_FREESWITCH_START");
        var back = System.Diagnostics.Stopwatch.GetTimestamp();
        // The start command returns once the Event Socket answers: the link is back within about a second of that.
        await lab.WaitUntilReadyAsync(TimeSpan.FromSeconds(2));
        TestContext.Progress.WriteLine($"ready again {System.Diagnostics.Stopwatch.GetElapsedTime(back).TotalMilliseconds:0} ms after FreeSWITCH answered");

        var (second, phone) = await lab.DialAsync("+15551230012", PhoneBehaviour.Answering);
        var ended = await lab.EndedAsync(second.CallId);

        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, CallReasons.AnnounceComplete)));
        Assert.That(phone.Media.Report().HeardSpeech, Is.True, phone.Media.Report().ToString());
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task When_drachtio_server_restarts_mid_call_the_phone_gets_its_BYE()
    {
        var settings = LabSettings.Require();
        await using var lab = await Lab.StartAsync();
        var (call, phone) = await lab.DialAsync("+15551230013", PhoneBehaviour.Answering, repeat: 3);
        await lab.ReachesAsync(call.CallId, CallState.Playing);
        // As in the run that found it: drachtio-server stopped 1.5 s into the message the phone is hearing.
        await phone.HeardAsync(audiblePackets: 75, TimeSpan.FromSeconds(10));

        try
        {
            await LabSettings.RunAsync(settings.DrachtioStop, "VB_IT_DRACHTIO_STOP");
            var ended = await lab.EndedAsync(call.CallId, TimeSpan.FromSeconds(10));
            Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Failed, CallReasons.SignallingLost)), "nobody hung up: the signalling was lost");
            Assert.That(phone.Ended.IsCompleted, Is.False, "the phone's leg is still up while drachtio-server is down");
        }
        finally
        {
            await LabSettings.RunAsync(settings.DrachtioStart, "VB_IT_DRACHTIO_START");
        }

        Assert.That(await phone.Ended.WaitAsync(TimeSpan.FromSeconds(15)), Is.EqualTo("bye-received"), "the lost leg is ended with a BYE once drachtio-server is back");
        await lab.WaitUntilReadyAsync();
        await lab.AssertNoChannelsLeftAsync();
    }

    [Test]
    public async Task A_dialog_the_restarted_drachtio_server_forgot_is_hung_up_from_the_state_the_client_kept()
    {
        var settings = LabSettings.Require();
        await using var phone = TestPhone.TestPhone.Start(settings.PhoneAddress, logger: Lab.Logs.CreateLogger("phone"));
        await using var client = new Voice.Control.Drachtio.DrachtioClient(
            new() { Host = settings.DrachtioHost, Port = settings.DrachtioPort, Secret = settings.DrachtioSecret }, Lab.Logs.CreateLogger<Voice.Control.Drachtio.DrachtioClient>());
        await client.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var offer = $"v=0\r\no=- 1 1 IN IP4 {settings.PhoneAddress}\r\ns=-\r\nc=IN IP4 {settings.PhoneAddress}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        var dialog = await client.CreateUacAsync($"sip:15551230014@{phone.EndPoint}", new() { LocalSdp = offer, CallerId = "15550009999" }).WaitAsync(TimeSpan.FromSeconds(10));
        var call = phone.All[dialog.CallId];

        try
        {
            await LabSettings.RunAsync(settings.DrachtioStop, "VB_IT_DRACHTIO_STOP");
            var lost = await dialog.Terminated.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.That(lost.By, Is.EqualTo(Voice.Control.Drachtio.DialogTerminatedBy.ConnectionLost));
        }
        finally
        {
            await LabSettings.RunAsync(settings.DrachtioStart, "VB_IT_DRACHTIO_START");
        }

        Assert.That(await call.Ended.WaitAsync(TimeSpan.FromSeconds(15)), Is.EqualTo("bye-received"));
    }
}
