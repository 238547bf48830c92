namespace Voice.Control.Calls;

/// <summary>A call to place: who, what to say, and how. Only <see cref="To"/> and <see cref="Message"/> are required.</summary>
public sealed record CallRequest
{
    /// <summary>E.164 (<c>+15551234567</c>), a US 10/11-digit number, or a PBX extension.</summary>
    public required string To { get; init; }

    /// <summary>What to say, 1–1000 characters.</summary>
    public required string Message { get; init; }

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

    /// <summary>Anything the caller wants back (JSON text, an id…), echoed in every state change.</summary>
    public string? Tag { get; init; }
}
