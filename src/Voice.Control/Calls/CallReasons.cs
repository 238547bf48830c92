namespace Voice.Control.Calls;

/// <summary>Why a call ended, as reported in its last state change and in webhooks.</summary>
public static class CallReasons
{
    // Failed: the call was not (fully) made.

    /// <summary>486 Busy Here, 600 Busy Everywhere.</summary>
    public const string Busy = "busy";

    /// <summary>603 Decline: the callee rejected the call.</summary>
    public const string Rejected = "rejected";

    /// <summary>Nobody answered within the ring timeout (we sent CANCEL), or 480/408/487.</summary>
    public const string NoAnswer = "no_answer";

    /// <summary>404 Not Found, 484 Address Incomplete.</summary>
    public const string NotFound = "not_found";

    /// <summary>401/407 again after answering the challenge: the trunk refused our credentials.</summary>
    public const string AuthFailed = "auth_failed";

    /// <summary>503, or drachtio-server / FreeSWITCH not connected.</summary>
    public const string ServiceUnavailable = "service_unavailable";

    /// <summary>Hung up through the API before it was answered (CANCEL when it was ringing).</summary>
    public const string Canceled = "canceled";

    /// <summary>The media server could not create the endpoint or play the message.</summary>
    public const string MediaError = "media_error";

    /// <summary>The destination policy does not allow the number; nothing was dialled.</summary>
    public const string DestinationDenied = "destination_denied";

    /// <summary>Anything else (other SIP errors, unexpected failures); the state change carries the detail.</summary>
    public const string Error = "error";

    /// <summary>
    /// The link to drachtio-server was lost while the call was dialled or up: nobody hung up, but the call could not
    /// go on. Its legs are ended (BYE, CANCEL) as soon as the link is back.
    /// </summary>
    public const string SignallingLost = "signalling_lost";

    /// <summary>A call came in for an application that does not exist (or none was named and there is no <c>default</c>); it was refused (404).</summary>
    public const string NoApplication = "no_application";

    /// <summary>A call that came in from a caller on <see cref="CallOptions.DeniedCallers"/>; refused (403).</summary>
    public const string CallerDenied = "caller_denied";

    /// <summary>A call that came in from a caller over <see cref="CallOptions.InboundCallsPerCallerPerMinute"/>; refused (486).</summary>
    public const string CallerLimited = "caller_limited";

    // Completed: the call was answered.

    /// <summary>The message played to the end (every repeat) and we hung up.</summary>
    public const string AnnounceComplete = "announce_complete";

    /// <summary>The callee hung up (BYE from the far end).</summary>
    public const string RemoteHangup = "remote_hangup";

    /// <summary>Hung up through the API after answer.</summary>
    public const string LocalHangup = "local_hangup";

    /// <summary>The call reached its maximum duration and we hung up.</summary>
    public const string MaxDuration = "max_duration";

    /// <summary>A call that came in: its application's hook failed, so it heard the fallback and was hung up (the detail says why).</summary>
    public const string ApplicationFailed = "application_failed";

    public static IReadOnlySet<string> Failures { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        Busy, Rejected, NoAnswer, NotFound, AuthFailed, ServiceUnavailable, Canceled, MediaError, DestinationDenied, Error, SignallingLost, NoApplication, CallerDenied, CallerLimited,
    };

    public static IReadOnlySet<string> Completions { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        AnnounceComplete, RemoteHangup, LocalHangup, MaxDuration, ApplicationFailed,
    };

    /// <summary>The failure reason for a final SIP status of an INVITE (RFC 3261 §21).</summary>
    public static string ForSipStatus(int status) => status switch
    {
        486 or 600 => Busy,
        603 => Rejected,
        480 or 408 or 487 => NoAnswer,
        404 or 484 or 604 => NotFound,
        401 or 407 => AuthFailed,
        503 => ServiceUnavailable,
        _ => Error,
    };
}
