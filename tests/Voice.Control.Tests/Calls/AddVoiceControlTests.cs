using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
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

    private static HostApplicationBuilder Builder()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["VoiceControl:Simulation:RingTime"] = "00:00:00.020",
            ["VoiceControl:Simulation:SignallingDelay"] = "00:00:00.001",
            ["VoiceControl:Simulation:PlaybackSpeed"] = "50",
            ["VoiceControl:Calls:MaxConcurrentCalls"] = "7",
        });
        return builder;
    }

    [Test]
    public async Task In_a_generic_host_two_lines_place_a_call_and_the_host_starts_and_stops_the_library()
    {
        var builder = Builder();
        builder.Services.AddVoiceControl(builder.Configuration.GetSection("VoiceControl"));
        using var host = builder.Build();
        await host.StartAsync().Within();

        Assert.That(host.Services.GetRequiredService<VoiceControlOptions>().Calls.MaxConcurrentCalls, Is.EqualTo(7), "bound from configuration");
        var calls = host.Services.GetRequiredService<IOutboundCalls>();
        var placed = calls.Place(new CallRequest { To = "+15551234567", Message = "Disk full on nas-01" });
        var ended = await calls.WaitForEndAsync(placed.CallId).Within();
        Assert.That((ended.State, ended.Reason), Is.EqualTo((CallState.Completed, "announce_complete")));

        await host.StopAsync().Within();
        Assert.Throws<ObjectDisposedException>(() => calls.Place(new CallRequest { To = "+15551234567", Message = "Too late" }), "stopping the host ended the library");
    }

    [Test]
    public async Task Options_set_in_code_are_validated_when_the_host_starts_with_the_setting_named()
    {
        var builder = Builder();
        builder.Services.AddVoiceControl(o => o.Drachtio = new DrachtioClientOptions { Host = "127.0.0.1", Secret = "cymru" });
        using var host = builder.Build();
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.That(refused!.Message, Does.Contain("at least one FreeSWITCH media server"));
    }

    [Test]
    public void Options_built_beforehand_reach_the_services_whole()
    {
        var options = new VoiceControlOptions
        {
            Calls = new CallOptions { MaxConcurrentCalls = 3 },
            DefaultVoice = "slt",
            FliteProgram = null,
            FallBackToFlite = false,
            Simulation = new SimulationOptions { PlaybackSpeed = 7 },
            SpeechCache = new Voice.Control.Tts.SpeechCacheOptions { Directory = "/tmp/vb-options-test" },
        };
        var builder = Builder();
        builder.Services.AddVoiceControl(options);
        using var host = builder.Build();
        Assert.That(host.Services.GetRequiredService<VoiceControlOptions>(), Is.EqualTo(options), "every setting copied (a record compares them all)");
    }

    [Test]
    public void Services_the_application_registered_are_kept()
    {
        var builder = Builder();
        var clock = new ManualTimeProvider();
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddVoiceControl(_ => { });
        using var host = builder.Build();
        Assert.That(host.Services.GetRequiredService<TimeProvider>(), Is.SameAs(clock));
        Assert.That(host.Services.GetServices<IHostedService>().OfType<VoiceControlHostedService>().Count(), Is.EqualTo(1));
    }

    [Test]
    public async Task A_program_that_stops_its_host_from_a_StateChanged_handler_exits()
    {
        // As the README's console program was written: the handler completes a TaskCompletionSource, and the code
        // that awaited it stops and disposes the host, running on the library's delivery loop. It hung for good.
        var builder = Builder();
        builder.Services.AddVoiceControl(builder.Configuration.GetSection("VoiceControl"));
        var host = builder.Build();
        await host.StartAsync().Within();
        var calls = host.Services.GetRequiredService<IOutboundCalls>();
        var ended = new TaskCompletionSource();
        calls.StateChanged += (_, change) =>
        {
            if (change.To is CallState.Completed or CallState.Failed)
            {
                ended.TrySetResult();
            }
        };
        var program = Task.Run(async () =>
        {
            calls.Place(new CallRequest { To = "+15551234567", Message = "Disk full on nas-01" });
            await ended.Task;
            host.StopAsync().GetAwaiter().GetResult();
            host.Dispose();
        });
        await program.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(program.IsCompletedSuccessfully, Is.True);
    }
}
