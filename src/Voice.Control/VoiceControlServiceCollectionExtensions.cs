using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Voice.Control.Backends;
using Voice.Control.Calls;
using Voice.Control.Diagnostics;
using Voice.Control.Drachtio;
using Voice.Control.Media;
using Voice.Control.Simulation;
using Voice.Control.Tts;

namespace Voice.Control;

/// <summary>
/// Registers the library in a service collection, the options way: <see cref="VoiceControlOptions"/> bound from
/// configuration or set in code, validated when the host starts, and a hosted service that opens the links at
/// start and ends calls and links at stop. An embedding program writes two lines:
/// <code>
/// builder.Services.AddVoiceControl(builder.Configuration.GetSection("VoiceControl"));
/// // … then resolve IOutboundCalls and place calls
/// </code>
/// </summary>
public static class VoiceControlServiceCollectionExtensions
{
    /// <summary>
    /// Options bound from <paramref name="configuration"/> (e.g. the <c>VoiceControl</c> section), validated at
    /// start. Binding reads the options' types by reflection (the configuration binder's source generator cannot
    /// build <see cref="System.Net.IPAddress"/> or certificate collections), so a trimmed or native-AOT program
    /// sets the options in code instead.
    /// </summary>
    [RequiresUnreferencedCode("Binds VoiceControlOptions by reflection; use the Action<VoiceControlOptions> overload when trimming.")]
    [RequiresDynamicCode("Binds VoiceControlOptions by reflection; use the Action<VoiceControlOptions> overload for native AOT.")]
    public static IServiceCollection AddVoiceControl(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<VoiceControlOptions>().Bind(configuration);
        return services.AddVoiceControlServices();
    }

    /// <summary>Options set in code, validated at start.</summary>
    public static IServiceCollection AddVoiceControl(this IServiceCollection services, Action<VoiceControlOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<VoiceControlOptions>().Configure(configure);
        return services.AddVoiceControlServices();
    }

    /// <summary>
    /// Options built beforehand (the VoiceBridge host reads its own settings). They are validated here as well,
    /// so a bad configuration stops the program at registration with the setting named.
    /// </summary>
    public static IServiceCollection AddVoiceControl(this IServiceCollection services, VoiceControlOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton<IConfigureOptions<VoiceControlOptions>>(new ConfigureOptions<VoiceControlOptions>(options.CopyTo));
        return services.AddVoiceControlServices();
    }

    /// <summary>
    /// Registers <see cref="IOutboundCalls"/> and what it runs on: drachtio-server and the FreeSWITCH pool when
    /// <see cref="VoiceControlOptions.Drachtio"/> is set, otherwise the simulated backend, decided when first
    /// resolved. Services the application registered itself (<see cref="TimeProvider"/>, logging) are kept.
    /// </summary>
    private static IServiceCollection AddVoiceControlServices(this IServiceCollection services)
    {
        services.AddOptions<VoiceControlOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<VoiceControlOptions>, VoiceControlOptionsValidator>());
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new VoiceMeter(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<VoiceControlOptions>>().Value);
        services.TryAddSingleton<ISpeechSynthesizer>(sp => Speech(sp, sp.GetRequiredService<VoiceControlOptions>()));
        services.TryAddSingleton(sp => new DrachtioClient(
            sp.GetRequiredService<VoiceControlOptions>().Drachtio ?? throw new InvalidOperationException("No drachtio-server is configured: calls run on the simulated backend."),
            sp.GetRequiredService<ILogger<DrachtioClient>>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new MediaSessionBroker(
            sp.GetRequiredService<VoiceControlOptions>().EventSocketListener, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new MediaServerPool(sp.GetRequiredService<VoiceControlOptions>().MediaServers.Select(m => new MediaServer(
            m, sp.GetRequiredService<DrachtioClient>(), sp.GetRequiredService<MediaSessionBroker>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()))));
        services.TryAddSingleton<ICallBackend>(sp =>
        {
            var options = sp.GetRequiredService<VoiceControlOptions>();
            return options.IsSimulated
                ? new SimulatedBackend(options.Simulation, sp.GetRequiredService<ILogger<SimulatedBackend>>(), sp.GetRequiredService<TimeProvider>())
                : new SipCallBackend(sp.GetRequiredService<DrachtioClient>(), sp.GetRequiredService<MediaServerPool>(), options.Calls);
        });
        services.TryAddSingleton(sp => new CallManager(
            sp.GetRequiredService<VoiceControlOptions>().Calls, sp.GetRequiredService<ICallBackend>(), sp.GetRequiredService<ISpeechSynthesizer>(),
            sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<VoiceMeter>(), sp.GetService<Scripts.ICallHooks>()));
        services.TryAddSingleton<IOutboundCalls>(sp => sp.GetRequiredService<CallManager>());
        services.TryAddSingleton<VoiceControlRuntime>();
        services.TryAddSingleton<VoiceControlHostedService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, VoiceControlHostedService>(sp => sp.GetRequiredService<VoiceControlHostedService>()));
        return services;
    }

    private static ISpeechSynthesizer Speech(IServiceProvider services, VoiceControlOptions options)
    {
        var time = services.GetRequiredService<TimeProvider>();
        var cache = new SpeechCache(options.SpeechCache ?? new SpeechCacheOptions { Directory = Path.Combine(Path.GetTempPath(), "voicebridge-tts") }, time, services.GetRequiredService<VoiceMeter>());
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

    /// <summary>The options' own checks, as the options pattern runs them (at start with ValidateOnStart).</summary>
    private sealed class VoiceControlOptionsValidator : IValidateOptions<VoiceControlOptions>
    {
        public ValidateOptionsResult Validate(string? name, VoiceControlOptions options)
        {
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (ArgumentException ex)
            {
                return ValidateOptionsResult.Fail(ex.Message);
            }
        }
    }
}
