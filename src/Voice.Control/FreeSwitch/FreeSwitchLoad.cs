using System.Globalization;

namespace Voice.Control.FreeSwitch;

/// <summary>A FreeSWITCH server's load, as its last HEARTBEAT reported it.</summary>
public sealed record FreeSwitchLoad(
    int SessionCount, int MaxSessions, int SessionsPerSecond, int MaxSessionsPerSecond, double IdleCpu, string? Uptime, DateTimeOffset ReceivedAt)
{
    /// <summary>Reads the figures of a HEARTBEAT event; absent ones are zero.</summary>
    public static FreeSwitchLoad FromHeartbeat(EslEvent heartbeat, DateTimeOffset receivedAt) => new(
        Int(heartbeat["Session-Count"]),
        Int(heartbeat["Max-Sessions"]),
        Int(heartbeat["Session-Per-Sec"]),
        Int(heartbeat["Session-Per-Sec-Max"]),
        double.TryParse(heartbeat["Idle-CPU"], NumberStyles.Float, CultureInfo.InvariantCulture, out var idle) ? idle : 0,
        heartbeat["Up-Time"],
        receivedAt);

    private static int Int(string? value) => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
}
