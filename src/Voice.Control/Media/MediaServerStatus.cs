using Voice.Control.FreeSwitch;

namespace Voice.Control.Media;

/// <summary>One media server as the pool sees it.</summary>
/// <param name="Name">The server's display name.</param>
/// <param name="IsConnected">Ready for endpoints (Event Socket up, profile running, drachtio-server up).</param>
/// <param name="Load">FreeSWITCH's figures from its last HEARTBEAT, or null before the first.</param>
/// <param name="Endpoints">Endpoints of this server not yet destroyed.</param>
/// <param name="Problem">Why it is not ready, for an operator; null when it is.</param>
public sealed record MediaServerStatus(string Name, bool IsConnected, FreeSwitchLoad? Load, int Endpoints, string? Problem = null);
