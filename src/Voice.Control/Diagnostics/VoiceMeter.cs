using System.Diagnostics;
using System.Diagnostics.Metrics;
using Voice.Control.Calls;

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
        DialLatency = _meter.CreateHistogram("voicebridge.call.dial_latency", "s", "From the call leaving the queue to the INVITE being sent", advice: LatencyBuckets);
        AnswerToAudio = _meter.CreateHistogram("voicebridge.call.answer_to_audio", "s", "From the answer (200 OK) to the message starting to play", advice: LatencyBuckets);
        StateChanges = _meter.CreateCounter<long>("voicebridge.call.state_changes", description: "Call state changes, by the state entered");
        CallsEnded = _meter.CreateCounter<long>("voicebridge.calls.ended", description: "Calls ended, by final state and reason");
        SpeechCacheLookups = _meter.CreateCounter<long>("voicebridge.tts.cache_lookups", description: "Speech cache lookups, by result (hit or miss)");
    }

    /// <summary>
    /// Latency buckets in seconds, advised to every reader (OpenTelemetry takes them instead of its defaults, which
    /// are meant for milliseconds): fine below 10 ms, where VoiceBridge's own work lies, coarse above.
    /// </summary>
    private static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    };

    /// <summary>The meter the instruments belong to (its <see cref="Meter.Scope"/> is the factory that made it).</summary>
    public Meter Meter => _meter;

    /// <summary>From the call leaving the queue to its INVITE going to the trunk: endpoint creation and VoiceBridge's own work.</summary>
    internal Histogram<double> DialLatency { get; }

    /// <summary>From the phone's 200 OK to the play command: how long the callee hears silence.</summary>
    internal Histogram<double> AnswerToAudio { get; }

    /// <summary>Every state a call enters, tagged <c>state</c> (queued, dialing, ringing, playing, completed, failed).</summary>
    internal Counter<long> StateChanges { get; }

    /// <summary>Every call that ended, tagged <c>state</c> (completed or failed) and <c>reason</c>.</summary>
    internal Counter<long> CallsEnded { get; }

    /// <summary>Looks for a rendered message in the speech cache, tagged <c>result</c> = hit or miss.</summary>
    internal Counter<long> SpeechCacheLookups { get; }

    /// <summary>Counts one state change, and the call's end when the change is final.</summary>
    internal void Count(CallStateChange change)
    {
        var state = new KeyValuePair<string, object?>("state", CallStateMachine.Name(change.To));
        StateChanges.Add(1, state);
        if (CallStateMachine.IsFinal(change.To))
        {
            CallsEnded.Add(1, state, new KeyValuePair<string, object?>("reason", change.Reason ?? "unknown"));
        }
    }

    internal static double SecondsSince(long timestamp) => Stopwatch.GetElapsedTime(timestamp).TotalSeconds;

    public void Dispose()
    {
        if (_owned)
        {
            _meter.Dispose();
        }
    }
}
