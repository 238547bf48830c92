using System.Diagnostics;

namespace Voice.Host.Observability;

/// <summary>The host's spans (webhook deliveries, each in the trace of the call it reports on), on the <see cref="ActivitySource"/> named <see cref="SourceName"/>.</summary>
internal static class HostActivities
{
    public const string SourceName = "Voice.Host";

    public static readonly ActivitySource Source = new(SourceName);
}
