namespace Voice.Control.Drachtio;

/// <summary>Raised when the client has connected and authenticated (first time and after every reconnect).</summary>
public sealed class DrachtioConnectedEventArgs(DrachtioServerInfo server, bool isReconnect) : EventArgs
{
    public DrachtioServerInfo Server { get; } = server;

    public bool IsReconnect { get; } = isReconnect;
}

/// <summary>Raised when an authenticated link goes down.</summary>
public sealed class DrachtioDisconnectedEventArgs(Exception reason, bool willReconnect) : EventArgs
{
    public Exception Reason { get; } = reason;

    /// <summary>False when the client has stopped: disposed, or the secret was refused.</summary>
    public bool WillReconnect { get; } = willReconnect;
}
