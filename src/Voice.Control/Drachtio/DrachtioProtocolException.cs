namespace Voice.Control.Drachtio;

/// <summary>
/// drachtio-server sent bytes that are not a valid frame or message. The connection is closed, because the
/// stream can no longer be trusted to be in sync; the message names the offending frame.
/// </summary>
public sealed class DrachtioProtocolException(string message) : DrachtioException(message);
