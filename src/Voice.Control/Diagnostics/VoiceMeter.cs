using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Voice.Control.Diagnostics;

/// <summary>
/// The library's measurements, on a <see cref="Meter"/> named <see cref="Name"/> that comes from the
/// application's <see cref="IMeterFactory"/> when it has one: two hosts in one process (tests) each count their
/// own, and any <see cref="MeterListener"/> (the host's /metrics, OpenTelemetry, dotnet-counters) can read them.
/// </summary>
public sealed class VoiceMeter : IDisposable
{
    public const string Name = "Voice.Control";

    private readonly Meter _meter;
    private readonly bool _owned;

    /// <param name="factory">The application's meter factory; null creates a meter of this instance's own.</param>
    public VoiceMeter(IMeterFactory? factory = null)
    {
        _owned = factory is null;
        _meter = factory?.Create(Name) ?? new Meter(Name);
        DialLatency = _meter.CreateHistogram<double>("voicebridge.call.dial_latency", "s", "From the call leaving the queue to the INVITE being sent");
        AnswerToAudio = _meter.CreateHistogram<double>("voicebridge.call.answer_to_audio", "s", "From the answer (200 OK) to the message starting to play");
        SpeechCacheLookups = _meter.CreateCounter<long>("voicebridge.tts.cache_lookups", description: "Speech cache lookups, by result (hit or miss)");
    }

    /// <summary>The meter the instruments belong to (its <see cref="Meter.Scope"/> is the factory that made it).</summary>
    public Meter Meter => _meter;

    /// <summary>From the call leaving the queue to its INVITE going to the trunk: endpoint creation and VoiceBridge's own work.</summary>
    internal Histogram<double> DialLatency { get; }

    /// <summary>From the phone's 200 OK to the play command: how long the callee hears silence.</summary>
    internal Histogram<double> AnswerToAudio { get; }

    /// <summary>Looks for a rendered message in the speech cache, tagged <c>result</c> = hit or miss.</summary>
    internal Counter<long> SpeechCacheLookups { get; }

    internal static double SecondsSince(long timestamp) => Stopwatch.GetElapsedTime(timestamp).TotalSeconds;

    public void Dispose()
    {
        if (_owned)
        {
            _meter.Dispose();
        }
    }
}
