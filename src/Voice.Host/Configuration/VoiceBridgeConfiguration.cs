using System.Globalization;
using System.Net;
using Voice.Control;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;
using Voice.Control.Phone;
using Voice.Control.Simulation;
using Voice.Control.Sip;
using Voice.Control.Tts;
using Voice.Host.Webhooks;

namespace Voice.Host.Configuration;

/// <summary>
/// Reads the library's options from configuration: the original voice-app's environment variables first
/// (<c>SIP_TRUNK_HOST</c>, <c>DRACHTIO_HOST</c>, <c>FREESWITCH_HOST</c>, <c>ELEVENLABS_API_KEY</c>…), then the
/// sections of appsettings.json. A value that does not parse is an error naming the setting, not a default.
/// </summary>
internal static class VoiceBridgeConfiguration
{
    public static VoiceControlOptions From(IConfiguration configuration, string dataDirectory)
    {
        var drachtio = Drachtio(configuration);
        var calls = Calls(configuration) with { Recording = Recording(configuration, dataDirectory) };
        return new VoiceControlOptions
        {
            Calls = calls,
            Drachtio = drachtio,
            Registration = drachtio is null ? null : Registration(configuration, calls),
            MediaServers = drachtio is null ? [] : MediaServers(configuration),
            EventSocketListener = Listener(configuration),
            DefaultVoice = Value(configuration, null, "Tts:FliteVoice") ?? "kal",
            // "none" leaves the synthesis to FreeSWITCH's speak at answer (later speech; no flite needed on this host).
            FliteProgram = Value(configuration, null, "Tts:FliteProgram") is { } flite ? (flite == "none" ? null : flite) : "flite",
            ElevenLabs = Value(configuration, "ELEVENLABS_API_KEY", "ElevenLabs:ApiKey") is { } key
                ? new ElevenLabsOptions
                {
                    ApiKey = key,
                    VoiceId = Value(configuration, "ELEVENLABS_VOICE_ID", "ElevenLabs:VoiceId") ?? "JBFqnCBsd6RMkjVDRZzb",
                    ModelId = Value(configuration, null, "ElevenLabs:ModelId") ?? "eleven_flash_v2_5",
                }
                : null,
            Simulation = new SimulationOptions
            {
                RingTime = Milliseconds(configuration, "Simulation:RingTimeMs") ?? new SimulationOptions().RingTime,
                SignallingDelay = Milliseconds(configuration, "Simulation:SignallingDelayMs") ?? new SimulationOptions().SignallingDelay,
                HangupAfter = Milliseconds(configuration, "Simulation:HangupAfterMs") ?? new SimulationOptions().HangupAfter,
                PlaybackSpeed = Int(configuration, null, "Simulation:PlaybackSpeed") ?? 1,
                TalkTime = Milliseconds(configuration, "Simulation:TalkTimeMs") ?? new SimulationOptions().TalkTime,
            },
            SpeechCache = new SpeechCacheOptions
            {
                Directory = Path.Combine(dataDirectory, "tts"),
                HttpBase = Value(configuration, null, "Tts:HttpBase") is { } http
                    ? Uri.TryCreate(http, UriKind.Absolute, out var httpBase) && httpBase.Scheme is "http" or "https" ? httpBase
                        : throw new InvalidOperationException($"Tts:HttpBase '{http}' is not an absolute http or https URL (e.g. http://voicebridge:3000/tts/).")
                    : null,
            },
        };
    }

    /// <summary>
    /// Call recordings: kept in Recordings:Directory (default: the data directory's <c>recordings</c>), written there by
    /// FreeSWITCH, or under RECORDINGS_FREESWITCH_TARGET as FreeSWITCH sees it: a path (a shared volume), or this host's
    /// upload URL (<c>http://voicebridge:3000/fs/recordings/</c>) when FreeSWITCH runs elsewhere; Recordings:MaxSeconds long at most.
    /// </summary>
    private static CallRecordingOptions Recording(IConfiguration configuration, string dataDirectory)
    {
        var recording = new CallRecordingOptions
        {
            Directory = Path.GetFullPath(Value(configuration, null, "Recordings:Directory") ?? Path.Combine(dataDirectory, "recordings")),
            FreeSwitchTarget = Value(configuration, "RECORDINGS_FREESWITCH_TARGET", "Recordings:FreeSwitchTarget"),
        };
        recording = Int(configuration, null, "Recordings:MaxSeconds") is { } seconds ? recording with { MaxDuration = TimeSpan.FromSeconds(seconds) } : recording;
        try
        {
            recording.Validate();
        }
        catch (ArgumentException ex)
        {
            // The library names its own settings; the user set these ones.
            var message = ex.ParamName is { } name ? ex.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : ex.Message;
            throw new InvalidOperationException(message.Replace("Recording target", "RECORDINGS_FREESWITCH_TARGET", StringComparison.Ordinal)
                .Replace("Recording MaxDuration must be 10 s – 4 h", "Recordings:MaxSeconds must be 10–14400", StringComparison.Ordinal), ex);
        }
        return recording;
    }

    /// <summary>Webhook signing and retries: WEBHOOK_SECRET (or Webhooks:Secret, else a generated secret in the data directory) and the Webhooks section.</summary>
    public static WebhookOptions Webhooks(IConfiguration configuration, string dataDirectory)
    {
        var (secret, source) = WebhookOptions.LoadSecret(Value(configuration, "WEBHOOK_SECRET", "Webhooks:Secret"), dataDirectory);
        var defaults = new WebhookOptions { Secret = secret };
        return defaults with
        {
            SecretSource = source,
            Timeout = Int(configuration, null, "Webhooks:TimeoutSeconds") is { } timeout ? TimeSpan.FromSeconds(timeout) : defaults.Timeout,
            InitialBackoff = Milliseconds(configuration, "Webhooks:InitialBackoffMs") ?? defaults.InitialBackoff,
            MaxBackoff = Int(configuration, null, "Webhooks:MaxBackoffSeconds") is { } max ? TimeSpan.FromSeconds(max) : defaults.MaxBackoff,
            GiveUpAfter = Int(configuration, null, "Webhooks:GiveUpAfterHours") is { } hours ? TimeSpan.FromHours(hours) : defaults.GiveUpAfter,
            Concurrency = Int(configuration, null, "Webhooks:Concurrency") ?? defaults.Concurrency,
            MaxInMemory = Int(configuration, null, "Webhooks:MaxInMemory") ?? defaults.MaxInMemory,
            Destinations = List(configuration, "WEBHOOK_ALLOWED_NETWORKS", "Webhooks:AllowedNetworks") is { } allowed
                ? new WebhookDestinations(allowed) : defaults.Destinations,
        };
    }

    private static DrachtioClientOptions? Drachtio(IConfiguration configuration)
    {
        var host = Value(configuration, "DRACHTIO_HOST", "Drachtio:Host");
        if (host is null)
        {
            return null;
        }
        return new DrachtioClientOptions
        {
            Host = host,
            Port = Int(configuration, "DRACHTIO_PORT", "Drachtio:Port") ?? DrachtioClientOptions.Default.Port,
            Secret = Value(configuration, "DRACHTIO_SECRET", "Drachtio:Secret") ?? string.Empty,
        };
    }

    /// <summary>
    /// Registering as the PBX extension whose credentials are SIP_AUTH_*, so the PBX routes that extension's calls to
    /// VoiceBridge: SIP_REGISTER (on by default when the credentials and INBOUND_ROUTES are set), the extension
    /// SIP_REGISTER_USER (default: SIP_AUTH_USERNAME; 3CX's authentication ID often differs from the extension number),
    /// with the registrar at SIP_DOMAIN (or the trunk) through the outbound proxy, and SIP_REGISTER_CONTACT behind NAT.
    /// </summary>
    private static RegistrationOptions? Registration(IConfiguration configuration, CallOptions calls)
    {
        var credentials = calls.Credentials;
        var wanted = Value(configuration, "SIP_REGISTER", "Sip:Register") is { } register
            ? bool.TryParse(register, out var on) ? on : throw new InvalidOperationException($"SIP_REGISTER '{register}' must be true or false.")
            : credentials is not null && calls.InboundRoutes.Count > 0;
        if (!wanted)
        {
            return null;
        }
        var user = Value(configuration, "SIP_REGISTER_USER", "Sip:RegisterUser") ?? credentials?.Username
            ?? throw new InvalidOperationException("SIP_REGISTER is on but there is no extension to register: set SIP_REGISTER_USER or SIP_AUTH_USERNAME.");
        var registration = new RegistrationOptions
        {
            Registrar = "sip:" + calls.DialPlan.Host,
            User = user,
            Credentials = credentials,
            Proxy = calls.OutboundProxy,
            Contact = Value(configuration, "SIP_REGISTER_CONTACT", "Sip:RegisterContact"),
        };
        return Int(configuration, null, "Sip:RegisterExpiresSeconds") is { } expires ? registration with { Expires = TimeSpan.FromSeconds(expires) } : registration;
    }

    /// <summary>
    /// The media servers: <c>FREESWITCH_HOSTS=fs1:8021,fs2:8021</c> (or <c>FreeSwitch:Hosts</c>, a list) for several, which share
    /// the password, profile and SRTP setting, otherwise the one <c>FREESWITCH_HOST</c>. A SIP URI set for several must
    /// say where each host goes with <c>{host}</c>.
    /// </summary>
    private static List<MediaServerOptions> MediaServers(IConfiguration configuration)
    {
        if (List(configuration, "FREESWITCH_HOSTS", "FreeSwitch:Hosts") is not { Count: > 0 } hosts)
        {
            var single = Value(configuration, "FREESWITCH_HOST", "FreeSwitch:Host") ?? "127.0.0.1";
            return [MediaServer(configuration, single, Int(configuration, "FREESWITCH_PORT", "FreeSwitch:Port") ?? 8021, single)];
        }
        if (Value(configuration, null, "FreeSwitch:SipUri") is { } uri && !uri.Contains("{host}", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"FreeSwitch:SipUri '{uri}' must contain {{host}} when FREESWITCH_HOSTS names several media servers.");
        }
        var servers = new List<MediaServerOptions>();
        foreach (var entry in hosts)
        {
            var colon = entry.LastIndexOf(':');
            var (host, port) = colon < 0 ? (entry, 8021)
                : int.TryParse(entry[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
                    ? (entry[..colon], p)
                    : throw new InvalidOperationException($"FREESWITCH_HOSTS entry '{entry}' must be host or host:port (a port from 1 to 65535).");
            if (servers.Exists(s => s.EventSocket.Host == host && s.EventSocket.Port == port))
            {
                throw new InvalidOperationException($"FREESWITCH_HOSTS names {host}:{port} twice.");
            }
            servers.Add(MediaServer(configuration, host, port, port == 8021 ? host : $"{host}:{port}"));
        }
        return servers;
    }

    private static MediaServerOptions MediaServer(IConfiguration configuration, string host, int port, string name)
    {
        return new MediaServerOptions
        {
            Name = name,
            EventSocket = new EslClientOptions
            {
                Host = host,
                Port = port,
                Password = Value(configuration, "FREESWITCH_SECRET", "FreeSwitch:Password") ?? "ClueCon",
            },
            SipUri = Value(configuration, null, "FreeSwitch:SipUri")?.Replace("{host}", host, StringComparison.Ordinal) ?? $"sip:drachtio@{host}:5090",
            Profile = Value(configuration, null, "FreeSwitch:Profile") ?? "mrf",
            Srtp = Value(configuration, null, "FreeSwitch:Srtp") is { } srtp && (bool.TryParse(srtp, out var on)
                ? on : throw new InvalidOperationException($"FreeSwitch:Srtp '{srtp}' must be true or false.")),
        };
    }

    /// <summary>
    /// The outbound Event Socket listener. FreeSWITCH must reach it: EXTERNAL_IP (as in the original) or
    /// FreeSwitch:AdvertisedAddress names the address it is told.
    /// </summary>
    private static EslOutboundOptions Listener(IConfiguration configuration)
    {
        var port = Int(configuration, "ESL_OUTBOUND_PORT", "FreeSwitch:OutboundPort") ?? 8086;
        var listen = Value(configuration, null, "FreeSwitch:OutboundListen") is { } address ? Parse(address, "FreeSwitch:OutboundListen") : IPAddress.Loopback;
        var advertised = Value(configuration, null, "FreeSwitch:AdvertisedAddress")
            ?? (Value(configuration, "EXTERNAL_IP", null) is { } external ? $"{external}:{port}" : null);
        return new EslOutboundOptions { ListenAddress = listen, Port = port, AdvertisedAddress = advertised };
    }

    /// <summary>How long the host keeps an ended call in memory (its store keeps it for the retention in days).</summary>
    public static readonly TimeSpan EndedCallRetention = TimeSpan.FromMinutes(1);

    private static CallOptions Calls(IConfiguration configuration)
    {
        var trunk = Value(configuration, "SIP_TRUNK_HOST", "Sip:TrunkHost") ?? "127.0.0.1";
        var domain = Value(configuration, "SIP_DOMAIN", "Sip:Domain");
        var proxy = Value(configuration, "SIP_OUTBOUND_PROXY", "Sip:OutboundProxy");
        // With a SIP domain that is not the trunk's address, the INVITE still goes to the trunk.
        proxy ??= domain is not null && domain != trunk ? trunk : null;
        var user = Value(configuration, "SIP_AUTH_USERNAME", "Sip:AuthUsername");
        var password = Value(configuration, "SIP_AUTH_PASSWORD", "Sip:AuthPassword");
        var rule = Value(configuration, "SIP_DIAL_RULE", "Sip:DialRule");
        var defaults = new CallOptions();
        return new CallOptions
        {
            DialPlan = new DialPlan
            {
                Rule = rule is null ? DialRule.ThreeCx : Enum.TryParse<DialRule>(rule, ignoreCase: true, out var r) ? r
                    : throw new InvalidOperationException($"SIP_DIAL_RULE '{rule}' must be ThreeCx or E164."),
                Host = domain ?? trunk,
                Transport = Value(configuration, "SIP_TRANSPORT", "Sip:Transport"),
                HomeCountryCode = Value(configuration, null, "Sip:HomeCountryCode") ?? "1",
                OutsideLinePrefix = Value(configuration, null, "Sip:OutsideLinePrefix") ?? "9",
            },
            // National numbers of the home country, as people there write them (030 1234567 with Sip:HomeCountryCode 49).
            Numbers = new PhoneNumberRules { DefaultCountryCode = Value(configuration, null, "Sip:HomeCountryCode") ?? "1" },
            DefaultCallerId = Value(configuration, "DEFAULT_CALLER_ID", "Calls:DefaultCallerId"),
            OutboundProxy = proxy is null ? null : proxy.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) || proxy.StartsWith("sips:", StringComparison.OrdinalIgnoreCase) ? proxy : "sip:" + proxy,
            Credentials = user is not null && password is not null ? new SipCredentials(user, password) : null,
            MaxConcurrentCalls = Int(configuration, "MAX_CONCURRENT_CALLS", "Calls:MaxConcurrentCalls") ?? defaults.MaxConcurrentCalls,
            CallsPerSecond = Int(configuration, "CALLS_PER_SECOND", "Calls:CallsPerSecond") ?? defaults.CallsPerSecond,
            MaxQueuedCalls = Int(configuration, null, "Calls:MaxQueuedCalls") ?? defaults.MaxQueuedCalls,
            // The host keeps every call in its store: an ended call stays in memory only for the polls that find it ended.
            // The library's default (10 minutes, for programs without a store) held 12,000 ended calls at 20 calls/s,
            // some 5 KB each (dotnet-gcdump), for every full collection to walk.
            EndedCallRetention = EndedCallRetention,
            MaxCallDuration = Int(configuration, null, "Calls:MaxCallDurationSeconds") is { } max ? TimeSpan.FromSeconds(max) : defaults.MaxCallDuration,
            HookTimeout = Int(configuration, "HOOK_TIMEOUT_SECONDS", "Calls:HookTimeoutSeconds") is { } hook ? TimeSpan.FromSeconds(hook) : defaults.HookTimeout,
            HookFailureMessage = Value(configuration, "HOOK_FAILURE_MESSAGE", "Calls:HookFailureMessage") ?? defaults.HookFailureMessage,
            DeniedCallers = List(configuration, "INBOUND_DENIED_CALLERS", "Inbound:DeniedCallers") ?? defaults.DeniedCallers,
            InboundRoutes = List(configuration, "INBOUND_ROUTES", "Inbound:Routes") is { } routes ? [.. routes.Select(Route)] : defaults.InboundRoutes,
            InboundCallsPerCallerPerMinute = Int(configuration, "INBOUND_CALLS_PER_CALLER_PER_MINUTE", "Inbound:CallsPerCallerPerMinute") ?? defaults.InboundCallsPerCallerPerMinute,
            Policy = new DestinationPolicy
            {
                AllowedCountryCodes = List(configuration, "ALLOWED_COUNTRY_CODES", "Calls:AllowedCountryCodes") ?? [],
                AllowedPrefixes = List(configuration, null, "Calls:AllowedPrefixes") ?? [],
                DeniedPrefixes = List(configuration, null, "Calls:DeniedPrefixes") ?? DestinationPolicy.PremiumRatePrefixes,
                DeniedNumberTypes = List(configuration, null, "Calls:DeniedNumberTypes") is { } types
                    ? [.. types.Select(t => DestinationPolicy.TryParseNumberType(t, out var type) ? type
                        : throw new InvalidOperationException($"Calls:DeniedNumberTypes '{t}' is not a number type ({string.Join(", ", Enum.GetNames<NumberType>())}).")) ]
                    : new DestinationPolicy().DeniedNumberTypes,
            },
        };
    }

    /// <summary>The environment variable when set, else the appsettings key; blank counts as unset.</summary>
    public static string? Value(IConfiguration configuration, string? environment, string? key)
    {
        var value = (environment is null ? null : configuration[environment]) ?? (key is null ? null : configuration[key]);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public static int? Int(IConfiguration configuration, string? environment, string key) =>
        Value(configuration, environment, key) is not { } text ? null
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
        : throw new InvalidOperationException($"{environment ?? key} '{text}' is not a whole number.");

    private static TimeSpan? Milliseconds(IConfiguration configuration, string key) =>
        Int(configuration, null, key) is { } ms ? TimeSpan.FromMilliseconds(ms) : null;

    public static IReadOnlyList<string>? List(IConfiguration configuration, string? environment, string key)
    {
        if (Value(configuration, environment, null) is { } joined)
        {
            return joined.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        var section = configuration.GetSection(key);
        return section.Exists() ? [.. section.GetChildren().Select(c => c.Value!).Where(v => !string.IsNullOrWhiteSpace(v))] : null;
    }

    private static Voice.Control.Scripts.InboundRoute Route(string text)
    {
        try
        {
            return Voice.Control.Scripts.InboundRoute.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new InvalidOperationException($"INBOUND_ROUTES: {ex.Message}", ex);
        }
    }

    private static IPAddress Parse(string address, string name) =>
        IPAddress.TryParse(address, out var ip) ? ip : throw new InvalidOperationException($"{name} '{address}' is not an IP address.");
}
