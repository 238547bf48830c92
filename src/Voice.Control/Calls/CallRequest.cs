namespace Voice.Control.Calls;

/// <summary>
/// A call to place: who, what it runs, and how. <see cref="To"/> is required, and either <see cref="Message"/> (said
/// <see cref="Repeat"/> times, or until acknowledged with <see cref="Acknowledge"/>) or a <see cref="Script"/>.
/// </summary>
public sealed record CallRequest
{
    /// <summary>E.164 (<c>+15551234567</c>), a US 10/11-digit number, or a PBX extension.</summary>
    public required string To { get; init; }

    /// <summary>What to say, 1–1000 characters: the shorthand for a script of one <c>say</c>.</summary>
    public string? Message { get; init; }

    /// <summary>The verbs the call runs once answered, instead of <see cref="Message"/>.</summary>
    public Scripts.CallScript? Script { get; init; }

    /// <summary>With <see cref="Message"/>: ask the callee to acknowledge it with a key, repeating it until they do or the tries run out.</summary>
    public Scripts.Acknowledgement? Acknowledge { get; init; }

    /// <summary>The caller ID (user part of From); defaults to <see cref="CallOptions.DefaultCallerId"/>.</summary>
    public string? CallerId { get; init; }

    /// <summary>The display name shown with the caller ID.</summary>
    public string? CallerName { get; init; }

    /// <summary>How long to let it ring, 5–120 s; default 30 s.</summary>
    public TimeSpan? RingTimeout { get; init; }

    /// <summary>The TTS voice; null is the configured default.</summary>
    public string? Voice { get; init; }

    /// <summary>How often the message is played, 1–5, with a short pause between.</summary>
    public int Repeat { get; init; } = 1;

    /// <summary>Hang up after this long from the answer, whatever is playing; default <see cref="CallOptions.MaxCallDuration"/>.</summary>
    public TimeSpan? MaxDuration { get; init; }

    /// <summary>Extra SIP headers for the INVITE; names must start with <c>X-</c>.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Record the call from the answer to the hang-up (both parties, stereo); needs <see cref="CallOptions.Recording"/>.</summary>
    public bool Record { get; init; }

    /// <summary>Anything the caller wants back (JSON text, an id…), echoed in every state change.</summary>
    public string? Tag { get; init; }
}
