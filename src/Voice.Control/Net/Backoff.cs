namespace Voice.Control.Net;

/// <summary>Reconnect delays shared by the protocol clients.</summary>
internal static class Backoff
{
    /// <summary>Exponential back-off with "equal jitter": half the delay fixed, half random.</summary>
    public static TimeSpan Next(TimeSpan min, TimeSpan max, int failures)
    {
        var exponential = min.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 20));
        var capped = Math.Min(exponential, max.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped / 2 + Random.Shared.NextDouble() * capped / 2);
    }

    /// <summary>
    /// The level of the n-th failed attempt's log line: the first is a warning, and then one a minute or so, so an
    /// outage with attempts every second says so without a line per attempt.
    /// </summary>
    public static Microsoft.Extensions.Logging.LogLevel LogLevelFor(int failures) =>
        failures % 60 == 0 ? Microsoft.Extensions.Logging.LogLevel.Warning : Microsoft.Extensions.Logging.LogLevel.Debug;
}
