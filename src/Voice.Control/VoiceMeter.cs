using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Voice.Control;

/// <summary>
/// The library's measurements, on the standard <see cref="Meter"/> named <see cref="Name"/>: any
/// <see cref="MeterListener"/> (the host's /metrics, OpenTelemetry, dotnet-counters) can read them.
/// </summary>
public static class VoiceMeter
{
    public const string Name = "Voice.Control";

    private static readonly Meter Meter = new(Name);

    /// <summary>From the call leaving the queue to its INVITE going to the trunk: endpoint creation and VoiceBridge's own work.</summary>
    internal static readonly Histogram<double> DialLatency = Meter.CreateHistogram<double>(
        "voicebridge.call.dial_latency", "s", "From the call leaving the queue to the INVITE being sent");

    /// <summary>From the phone's 200 OK to the play command: how long the callee hears silence.</summary>
    internal static readonly Histogram<double> AnswerToAudio = Meter.CreateHistogram<double>(
        "voicebridge.call.answer_to_audio", "s", "From the answer (200 OK) to the message starting to play");

    /// <summary>Looks for a rendered message in the speech cache, tagged <c>result</c> = hit or miss.</summary>
    internal static readonly Counter<long> SpeechCacheLookups = Meter.CreateCounter<long>(
        "voicebridge.tts.cache_lookups", description: "Speech cache lookups, by result (hit or miss)");

    internal static double SecondsSince(long timestamp) => Stopwatch.GetElapsedTime(timestamp).TotalSeconds;
}
