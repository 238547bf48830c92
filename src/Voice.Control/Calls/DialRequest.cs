using Voice.Control.Phone;

namespace Voice.Control.Calls;

/// <summary>One outgoing INVITE, as the orchestrator asks for it.</summary>
public sealed record DialRequest
{
    /// <summary>The number as validated; the simulated backend reads its outcome from it.</summary>
    public required PhoneNumber Number { get; init; }

    /// <summary>The Request-URI the dial plan made of the number.</summary>
    public required string Uri { get; init; }

    /// <summary>Our offer (the media endpoint's SDP); null for a late offer, answered by <see cref="AnswerOffer"/>.</summary>
    public required string? Sdp { get; init; }

    /// <summary>For a late offer: makes the answer to the callee's offer (creating the media that answers it) for the ACK.</summary>
    public Func<string, CancellationToken, Task<string>>? AnswerOffer { get; init; }

    /// <summary>The callee's offers after the answer (a re-INVITE): our answer, or null to answer with the last SDP.</summary>
    public Func<string, CancellationToken, Task<string?>>? AnswerReoffer { get; init; }

    public string? CallerId { get; init; }

    public string? CallerName { get; init; }

    public required TimeSpan RingTimeout { get; init; }

    /// <summary>Extra X- headers for the INVITE.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Called with each provisional status (180, 183) and the SDP of early media, if any.</summary>
    public Action<int, string?>? OnProgress { get; init; }
}
