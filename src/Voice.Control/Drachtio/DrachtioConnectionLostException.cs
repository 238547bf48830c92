namespace Voice.Control.Drachtio;

/// <summary>
/// The request could not complete because the link to drachtio-server is down: it was lost while the request
/// was in flight, or it was not up when the request was made.
/// </summary>
public sealed class DrachtioConnectionLostException : DrachtioException
{
    public DrachtioConnectionLostException(string message, Exception? inner = null) : base(message, inner) { }

    internal static DrachtioConnectionLostException Lost(Exception? cause) =>
        new("connection to drachtio-server lost" + (cause is null ? string.Empty : ": " + cause.Message), cause);

    internal static DrachtioConnectionLostException NotConnected() => new("not connected to drachtio-server");
}
