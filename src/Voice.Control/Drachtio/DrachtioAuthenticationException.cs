namespace Voice.Control.Drachtio;

/// <summary>
/// drachtio-server refused the shared secret (<c>NO|incorrect secret</c>). Retrying with the same secret
/// cannot succeed, so the client stops instead of reconnecting.
/// </summary>
public sealed class DrachtioAuthenticationException(string message) : DrachtioException(message);
