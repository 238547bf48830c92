using System.Diagnostics;

namespace Voice.Control.Diagnostics;

/// <summary>
/// The library's traces, on the <see cref="ActivitySource"/> named <see cref="SourceName"/>: one trace per call,
/// a child of whatever placed it (the REST request), with spans for its time in the queue, the media endpoint,
/// the INVITE (its final SIP status as <c>sip.status_code</c>) and each playback. The call's span ends with its
/// state and reason. OpenTelemetry (<c>AddSource("Voice.Control")</c>) or any <see cref="ActivityListener"/> reads them.
/// </summary>
public static class VoiceActivities
{
    public const string SourceName = "Voice.Control";

    internal static readonly ActivitySource Source = new(SourceName);
}
