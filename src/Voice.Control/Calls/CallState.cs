namespace Voice.Control.Calls;

/// <summary>Where a call is. Names and order follow the original's API (lower case on the wire).</summary>
public enum CallState
{
    /// <summary>Accepted, waiting for the dispatcher (concurrency and pacing limits).</summary>
    Queued,

    /// <summary>The media endpoint is being created and the INVITE is out.</summary>
    Dialing,

    /// <summary>The far end rings (180, or 183 with or without early media).</summary>
    Ringing,

    /// <summary>Answered; the message is playing.</summary>
    Playing,

    /// <summary>Answered and ended; <see cref="CallStateChange.Reason"/> says how.</summary>
    Completed,

    /// <summary>Ended without being answered, or broke; <see cref="CallStateChange.Reason"/> says why.</summary>
    Failed,
}
