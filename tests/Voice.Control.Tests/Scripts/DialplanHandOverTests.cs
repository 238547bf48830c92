using System.Net;
using System.Net.Sockets;
using System.Text;
using Voice.Control.Calls;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;
using Voice.Control.Simulation;
using Voice.Control.Tests.Calls;
using Voice.Control.Tests.Media;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Scripts;

/// <summary>
/// A channel a FreeSWITCH dialplan hands over with <c>socket</c>: the captured outbound session of mrf-play-collect (a
/// channel that then collects a real RFC 2833 "1"), with the dialplan's <c>voicebridge_*</c> variables in its channel data.
/// </summary>
public class DialplanHandOverTests
{
    private readonly Owned _owned = new();

    [TearDown]
    public Task Dispose() => _owned.DisposeAllAsync();

    private sealed class FileSpeech : ISpeechSynthesizer
    {
        public Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct) =>
            Task.FromResult(new SpeechAudio { Provider = "test", Source = "/var/lib/voicebridge/speech/" + text.Length + ".wav", Duration = TimeSpan.FromSeconds(1) });
    }

    /// <summary>A broker taking hand-overs into a manager, as the runtime wires them; FreeSWITCH connects with the captured session.</summary>
    private async Task<(CallManager Calls, ChangeLog Changes, EslReplay FreeSwitch)> HandOverAsync(string variables)
    {
        var calls = _owned.Add(new CallManager(new CallOptions(), new SimulatedBackend(), new FileSpeech(), TestLog.Factory));
        var broker = _owned.Add(new MediaSessionBroker(new EslOutboundOptions { Port = 0 }, TestLog.Factory));
        broker.HandOver = session =>
        {
            calls.Accept(Backends.DialplanLeg.Describe(session), new Backends.DialplanLeg(session, TimeProvider.System));
            return Task.CompletedTask;
        };
        broker.Start();
        var changes = new ChangeLog(calls);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, int.Parse(broker.AdvertisedAddress.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)));
        var replay = new EslReplay(_owned.Add(new FakeEslPeer(socket)), MediaRig.OneAtATime(Captures.EslFlow("mrf-play-collect", "esl-out")));
        // What the dialplan set before `socket`, in the channel data's own format.
        replay.Map("variable_sip_user_agent: ", variables + "variable_sip_user_agent: ");
        await replay.PlayAsync(2); // connect, channel data
        await replay.ExpectClientAsync((_, actual) => Assert.That(actual, Does.StartWith("event json ")));
        await replay.PlayAsync(3); // +OK, filter, +OK
        replay.Skip(4); // drachtio-fsmrf's media stats and dump
        return (calls, changes, replay);
    }

    private static int CapturedCollect(EslReplay replay) => replay.Messages.ToList().FindIndex(m =>
        m.From == Side.App && Encoding.UTF8.GetString(m.Bytes).Contains("execute-app-name: play_and_get_digits", StringComparison.Ordinal));

    /// <summary>Our next command, answered with FreeSWITCH's captured events for the collect (the caller presses 1).</summary>
    private static async Task<string> ExecuteAsync(EslReplay replay)
    {
        replay.Skip(CapturedCollect(replay) - replay.Position);
        var command = await replay.ExpectClientAsync((_, _) => { });
        if (command.Contains("play_and_get_digits", StringComparison.Ordinal))
        {
            replay.Map("myDigitBuffer", command.Split('\n').Single(l => l.StartsWith("execute-app-arg: ", StringComparison.Ordinal)).Split(' ')[8]);
        }
        await replay.PlayServerAsync();
        return command;
    }

    [Test]
    public async Task An_inline_gather_runs_on_the_channel_is_recorded_as_a_call_from_FreeSWITCH_and_hangs_up()
    {
        var (calls, changes, freeSwitch) = await HandOverAsync("variable_voicebridge_say: Press%201%20to%20restart.\nvariable_voicebridge_gather: 1\n");
        var answer = await ExecuteAsync(freeSwitch);
        Assert.That(answer, Does.Contain("execute-app-name: answer"));
        var collect = await ExecuteAsync(freeSwitch);
        Assert.That(collect, Does.Contain("execute-app-name: play_and_get_digits"));
        Assert.That(collect, Does.Contain("/var/lib/voicebridge/speech/" + "Press 1 to restart.".Length + ".wav"), "the prompt rendered before the answer");

        var hangup = await freeSwitch.Peer.ReceiveCommandAsync();
        Assert.That(hangup, Does.Contain("call-command: hangup").And.Contain("hangup-cause: NORMAL_CLEARING"), "voicebridge_on_end unset: hang up");
        var call = changes.All.Single(c => c.From is null);
        var ended = await changes.FinalAsync(call.CallId);
        Assert.That((ended.To, ended.Reason, ended.Results.Digits), Is.EqualTo((CallState.Completed, "announce_complete", "1")));
        var snapshot = calls.Get(call.CallId)!;
        Assert.That((snapshot.Direction, snapshot.Source, snapshot.To), Is.EqualTo(("inbound", "freeswitch", "drachtio")));
        Assert.That(changes.Of(call.CallId).Select(c => c.To), Is.EqualTo(new[] { CallState.Ringing, CallState.Playing, CallState.Completed }));
    }

    [Test]
    public async Task With_on_end_continue_the_channel_goes_back_to_the_dialplan_without_a_hangup()
    {
        var (_, changes, freeSwitch) = await HandOverAsync("variable_voicebridge_say: Thank%20you.\nvariable_voicebridge_on_end: continue\n");
        await ExecuteAsync(freeSwitch); // answer
        await ExecuteAsync(freeSwitch); // the say
        await freeSwitch.Peer.Closed.Within(); // the socket closes: FreeSWITCH goes on with the dialplan
        var call = changes.All.Single(c => c.From is null);
        Assert.That((await changes.FinalAsync(call.CallId)).Reason, Is.EqualTo("announce_complete"));
        await freeSwitch.Peer.AssertClientSendsNothingMoreAsync(TimeSpan.FromMilliseconds(100));
    }

    [Test]
    public async Task With_on_end_park_the_channel_is_transferred_to_an_inline_park_and_the_socket_closes()
    {
        var (_, changes, freeSwitch) = await HandOverAsync("variable_voicebridge_say: Please%20hold.\nvariable_voicebridge_on_end: park\n");
        await ExecuteAsync(freeSwitch); // answer
        await ExecuteAsync(freeSwitch); // the say
        Assert.That(await freeSwitch.Peer.ReceiveCommandAsync(), Is.EqualTo("api uuid_transfer 9805ae87-7aae-48cf-958b-f4125c0ef96f park inline"));
        await freeSwitch.Peer.SendAsync("Content-Type: api/response\nContent-Length: 4\n\n+OK\n");
        await freeSwitch.Peer.Closed.Within();
        var call = changes.All.Single(c => c.From is null);
        Assert.That((await changes.FinalAsync(call.CallId)).Reason, Is.EqualTo("announce_complete"));
    }

    [Test]
    public async Task A_channel_that_is_neither_an_endpoints_nor_handed_over_is_hung_up_and_never_taken_for_a_call()
    {
        var handedOver = 0;
        var broker = _owned.Add(new MediaSessionBroker(new EslOutboundOptions { Port = 0 }, TestLog.Factory));
        broker.HandOver = _ =>
        {
            Interlocked.Increment(ref handedOver);
            return Task.CompletedTask;
        };
        broker.Start();
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, int.Parse(broker.AdvertisedAddress.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)));
        var replay = new EslReplay(_owned.Add(new FakeEslPeer(socket)), MediaRig.OneAtATime(Captures.EslFlow("mrf-play-collect", "esl-out")));
        await replay.PlayAsync(2); // connect, channel data of an endpoint nobody waits for (its drachtio-fsmrf id is unknown)
        var hangup = await replay.Peer.ReceiveCommandAsync();
        Assert.That(hangup, Does.Contain("call-command: hangup"));
        Assert.That(handedOver, Is.Zero);
    }

    [Test]
    public async Task A_hand_over_for_an_application_that_does_not_exist_is_hung_up_as_unallocated()
    {
        var (_, changes, freeSwitch) = await HandOverAsync("variable_voicebridge_app: sales\n");
        var hangup = await freeSwitch.Peer.ReceiveCommandAsync();
        Assert.That(hangup, Does.Contain("call-command: hangup").And.Contain("hangup-cause: UNALLOCATED_NUMBER"), "FreeSWITCH answers the caller 404");
        var call = changes.All.Single(c => c.From is null);
        var ended = await changes.FinalAsync(call.CallId);
        Assert.That((ended.Reason, ended.Detail), Is.EqualTo(("no_application", "no application named 'sales'")));
    }
}
