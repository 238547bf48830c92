namespace Voice.Control.Media;

/// <summary>A media operation failed: an endpoint could not be created, or FreeSWITCH could not do what was asked.</summary>
public class MediaException : Exception
{
    public MediaException(string message)
        : base(message)
    {
    }

    public MediaException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}

/// <summary>No media server can take the request: none is connected, or its SIP profile is not running.</summary>
public sealed class MediaServerUnavailableException(string message, Exception? inner = null) : MediaException(message, inner);

/// <summary>The endpoint is gone (hung up, destroyed, or its media server was lost) so it can do nothing more.</summary>
public sealed class EndpointDestroyedException(string endpointId, string cause, Exception? inner = null)
    : MediaException($"endpoint {endpointId} is destroyed ({cause})", inner)
{
    public string EndpointId { get; } = endpointId;

    /// <summary>The hangup cause, as FreeSWITCH names it (<c>NORMAL_CLEARING</c>…), or <see cref="EndpointDestroyedEventArgs.MediaServerLost"/>.</summary>
    public string Cause { get; } = cause;
}
