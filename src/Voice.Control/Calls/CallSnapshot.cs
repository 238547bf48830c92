namespace Voice.Control.Calls;

/// <summary>A call as it is now (or as it ended).</summary>
public sealed record CallSnapshot
{
    public required string CallId { get; init; }

    /// <summary>The number as normalised (E.164, or the extension).</summary>
    public required string To { get; init; }

    /// <summary>The SIP Request-URI the dial plan made of it.</summary>
    public required string DialUri { get; init; }

    public required CallState State { get; init; }

    /// <summary>For completed and failed calls: why (see <see cref="CallReasons"/>).</summary>
    public string? Reason { get; init; }

    /// <summary>The final SIP status of the INVITE (200, 486…), once known.</summary>
    public int? SipStatus { get; init; }

    /// <summary>A human-readable explanation of a failure.</summary>
    public string? Detail { get; init; }

    /// <summary>The message, or for a script what it says (the first 1000 characters).</summary>
    public required string Message { get; init; }

    /// <summary>What the call's script found out: keys gathered, whether it was acknowledged, digits sent, hooks called.</summary>
    public CallResults Results { get; init; } = CallResults.None;

    public string? CallerId { get; init; }

    public int Repeat { get; init; } = 1;

    /// <summary>The request's tag, or the one the script's last <c>tag</c> verb set.</summary>
    public string? Tag { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? AnsweredAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>From answer to end, once ended after an answer.</summary>
    public TimeSpan? Duration => AnsweredAt is { } answered && EndedAt is { } ended ? ended - answered : null;

    /// <summary>True when the simulated backend made this call: nothing rang anywhere.</summary>
    public bool Simulated { get; init; }

    /// <summary><c>outbound</c> (placed by VoiceBridge) or <c>inbound</c> (it came in).</summary>
    public string Direction { get; init; } = "outbound";

    /// <summary>For a call that came in: from where (<c>freeswitch</c>, a dialplan's hand-over; <c>sip</c>; <c>simulated</c>).</summary>
    public string? Source { get; init; }

    /// <summary>For a call that came in: the application it ran.</summary>
    public string? Application { get; init; }

    /// <summary>The TTS provider whose audio played (<c>elevenlabs</c>, <c>flite</c>), once known.</summary>
    public string? SpeechProvider { get; init; }
}
