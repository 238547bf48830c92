namespace Voice.Control.Media;

/// <summary>Who ended an endpoint.</summary>
public enum EndpointTerminatedBy
{
    /// <summary>This application destroyed it.</summary>
    Local,

    /// <summary>FreeSWITCH hung the channel up (its BYE, or a hangup on the Event Socket).</summary>
    MediaServer,

    /// <summary>The link to FreeSWITCH or drachtio-server was lost while the endpoint was up.</summary>
    ConnectionLost,
}

/// <summary>How an endpoint ended: the hangup cause, who ended it, and when.</summary>
public sealed class EndpointDestroyedEventArgs(string cause, EndpointTerminatedBy by, DateTimeOffset at) : EventArgs
{
    /// <summary>The cause given when FreeSWITCH's socket closed without a hangup: the server stopped or the network failed.</summary>
    public const string MediaServerLost = "MEDIA_SERVER_LOST";

    /// <summary>FreeSWITCH's hangup cause (<c>NORMAL_CLEARING</c>, <c>MEDIA_TIMEOUT</c>…) or <see cref="MediaServerLost"/>.</summary>
    public string Cause { get; } = cause;

    public EndpointTerminatedBy By { get; } = by;

    public DateTimeOffset At { get; } = at;

    public override string ToString() => $"{Cause} ({By})";
}
