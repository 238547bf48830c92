using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Simulation;
using Voice.Control.Tests.Support;

namespace Voice.Control.Tests.Calls;

public class AddVoiceControlTests
{
    [Test]
    public async Task Without_drachtio_server_calls_run_on_the_simulated_backend()
    {
        var services = new ServiceCollection().AddSingleton(TestLog.Factory).AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddVoiceControl(new VoiceControlOptions
        {
            Simulation = new SimulationOptions { RingTime = TimeSpan.FromMilliseconds(20), SignallingDelay = TimeSpan.FromMilliseconds(1), PlaybackSpeed = 50 },
        });
        await using var provider = services.BuildServiceProvider();
        var runtime = provider.GetRequiredService<VoiceControlRuntime>();
        await runtime.StartAsync();
        var calls = provider.GetRequiredService<IOutboundCalls>();
        var changes = new ChangeLog(calls);

        Assert.That(calls.IsSimulated, Is.True);
        var placed = calls.Place(new CallRequest { To = "+1 (555) 123-4567", Message = "Disk full on nas-01" });
        var ended = await changes.FinalAsync(placed.CallId);
        Assert.That((ended.To, ended.Reason, ended.Simulated), Is.EqualTo((CallState.Completed, "announce_complete", true)));
        Assert.That(calls.Get(placed.CallId)!.DialUri, Is.EqualTo("sip:95551234567@127.0.0.1"), "the default 3CX dial rule");
        await runtime.DisposeAsync();
    }

    [Test]
    public void Bad_options_stop_the_registration_with_the_setting_named()
    {
        var noMedia = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddVoiceControl(new VoiceControlOptions
        {
            Drachtio = new DrachtioClientOptions { Host = "127.0.0.1", Secret = "cymru" },
        }));
        Assert.That(noMedia!.ParamName, Is.EqualTo("MediaServers"));

        var ring = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddVoiceControl(new VoiceControlOptions
        {
            Calls = new CallOptions { DefaultRingTimeout = TimeSpan.FromSeconds(300) },
        }));
        Assert.That(ring!.ParamName, Is.EqualTo("DefaultRingTimeout"));
    }
}
