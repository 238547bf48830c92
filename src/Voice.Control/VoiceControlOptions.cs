using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;
using Voice.Control.Simulation;
using Voice.Control.Tts;

namespace Voice.Control;

/// <summary>Everything the library needs, for <c>AddVoiceControl</c> (<see cref="VoiceControlServiceCollectionExtensions"/>): bound from configuration, set in code, or built beforehand.</summary>
public sealed record VoiceControlOptions
{
    public CallOptions Calls { get; set; } = new();

    /// <summary>drachtio-server; null runs every call on the simulated backend (and says so).</summary>
    public DrachtioClientOptions? Drachtio { get; set; }

    /// <summary>
    /// Registering with a PBX as one of its extensions (a 3CX extension), so it routes calls for that extension to
    /// VoiceBridge; kept registered while running, removed on stop. Null: no registration.
    /// </summary>
    public RegistrationOptions? Registration { get; set; }

    /// <summary>The FreeSWITCH media servers; at least one when <see cref="Drachtio"/> is set.</summary>
    public IReadOnlyList<MediaServerOptions> MediaServers { get; set; } = [];

    /// <summary>Where FreeSWITCH's dialplan <c>socket</c> app connects back to us.</summary>
    public EslOutboundOptions EventSocketListener { get; set; } = new();

    public SimulationOptions Simulation { get; set; } = new();

    /// <summary>The flite voice when a request names none (and the voice flite falls back to).</summary>
    public string DefaultVoice { get; set; } = "kal";

    /// <summary>
    /// The flite program that renders messages while the phone rings (Debian's <c>flite</c> package). Null or
    /// empty: FreeSWITCH's <c>speak</c> synthesizes each message at answer, and the callee waits for it.
    /// </summary>
    public string? FliteProgram { get; set; } = "flite";

    /// <summary>ElevenLabs for messages; null speaks every message with flite.</summary>
    public ElevenLabsOptions? ElevenLabs { get; set; }

    /// <summary>When ElevenLabs fails, speak the message with flite rather than fail the call.</summary>
    public bool FallBackToFlite { get; set; } = true;

    /// <summary>Where rendered audio is kept; null: a voicebridge-tts directory under the system's temporary directory.</summary>
    public SpeechCacheOptions? SpeechCache { get; set; }

    public bool IsSimulated => Drachtio is null;

    /// <summary>Sets every setting of <paramref name="target"/> to this one's (the options pattern configures an instance it made).</summary>
    internal void CopyTo(VoiceControlOptions target)
    {
        target.Calls = Calls;
        target.Drachtio = Drachtio;
        target.Registration = Registration;
        target.MediaServers = MediaServers;
        target.EventSocketListener = EventSocketListener;
        target.Simulation = Simulation;
        target.DefaultVoice = DefaultVoice;
        target.FliteProgram = FliteProgram;
        target.ElevenLabs = ElevenLabs;
        target.FallBackToFlite = FallBackToFlite;
        target.SpeechCache = SpeechCache;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Calls.Validate();
        ElevenLabs?.Validate();
        if (Drachtio is null)
        {
            return;
        }
        Drachtio.Validate();
        Registration?.Validate();
        if (MediaServers.Count == 0)
        {
            throw new ArgumentException("With drachtio-server configured, at least one FreeSWITCH media server is needed (FREESWITCH_HOST).", nameof(MediaServers));
        }
        foreach (var server in MediaServers)
        {
            server.Validate();
        }
    }
}
