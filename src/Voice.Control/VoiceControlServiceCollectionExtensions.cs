using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Media;
using Voice.Control.Simulation;
using Voice.Control.Tts;

namespace Voice.Control;

/// <summary>Registers the library in a service collection.</summary>
public static class VoiceControlServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IOutboundCalls"/> and what it runs on: drachtio-server and the FreeSWITCH pool when
    /// <see cref="VoiceControlOptions.Drachtio"/> is set, otherwise the simulated backend. The options are
    /// validated here, so a bad configuration stops the program at start with the setting named. Call
    /// <see cref="VoiceControlRuntime.StartAsync"/> (a hosted service does) to open the links.
    /// </summary>
    public static IServiceCollection AddVoiceControl(this IServiceCollection services, VoiceControlOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ISpeechSynthesizer>(sp => Speech(sp, options));
        if (options.Drachtio is { } drachtio)
        {
            services.AddSingleton(sp => new DrachtioClient(drachtio, sp.GetRequiredService<ILogger<DrachtioClient>>(), sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton(sp => new MediaSessionBroker(options.EventSocketListener, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton(sp => new MediaServerPool(options.MediaServers.Select(m => new MediaServer(
                m, sp.GetRequiredService<DrachtioClient>(), sp.GetRequiredService<MediaSessionBroker>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()))));
            services.AddSingleton<ICallBackend>(sp => new SipCallBackend(sp.GetRequiredService<DrachtioClient>(), sp.GetRequiredService<MediaServerPool>(), options.Calls));
        }
        else
        {
            services.AddSingleton<ICallBackend>(sp => new SimulatedBackend(options.Simulation, sp.GetRequiredService<ILogger<SimulatedBackend>>(), sp.GetRequiredService<TimeProvider>()));
        }
        services.AddSingleton(sp => new CallManager(
            options.Calls, sp.GetRequiredService<ICallBackend>(), sp.GetRequiredService<ISpeechSynthesizer>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IOutboundCalls>(sp => sp.GetRequiredService<CallManager>());
        services.AddSingleton<VoiceControlRuntime>();
        return services;
    }

    private static ISpeechSynthesizer Speech(IServiceProvider services, VoiceControlOptions options)
    {
        var time = services.GetRequiredService<TimeProvider>();
        var cache = new SpeechCache(options.SpeechCache ?? new SpeechCacheOptions { Directory = Path.Combine(Path.GetTempPath(), "voicebridge-tts") }, time);
        // The simulated backend plays nothing, so it needs no audio files: flite's text and estimated length serve it.
        var flite = options.IsSimulated || string.IsNullOrEmpty(options.FliteProgram)
            ? new FliteSynthesizer(options.DefaultVoice)
            : new FliteSynthesizer(cache, options.FliteProgram, options.DefaultVoice, services.GetRequiredService<ILogger<FliteSynthesizer>>());
        if (options.ElevenLabs is not { } elevenLabs)
        {
            return flite;
        }
        var cloud = new ElevenLabsSynthesizer(elevenLabs, cache, services.GetRequiredService<ILogger<ElevenLabsSynthesizer>>(), time);
        return options.FallBackToFlite ? new FallbackSynthesizer(cloud, flite, services.GetRequiredService<ILogger<FallbackSynthesizer>>()) : cloud;
    }
}
