namespace Voice.Control.Simulation;

/// <summary>
/// Numbers whose outcome the simulated backend decides, in the spirit of Twilio's test numbers. +1 500 is a
/// NANP area code reserved for personal communications, never a real destination here. Any other number
/// answers after a short ring and hears the message.
/// </summary>
public static class MagicNumbers
{
    /// <summary>Answers at once and listens to the whole message.</summary>
    public const string Answers = "+15005550000";

    /// <summary>486 Busy Here.</summary>
    public const string Busy = "+15005550001";

    /// <summary>Rings until the ring timeout; we send CANCEL (no_answer).</summary>
    public const string NeverAnswers = "+15005550002";

    /// <summary>404 Not Found.</summary>
    public const string NotFound = "+15005550003";

    /// <summary>603 Decline.</summary>
    public const string Rejected = "+15005550004";

    /// <summary>Answers, then hangs up during the message (remote_hangup).</summary>
    public const string HangsUpDuringMessage = "+15005550005";

    /// <summary>503 Service Unavailable from the trunk.</summary>
    public const string Unavailable = "+15005550006";

    /// <summary>407 twice: the trunk refuses the credentials (auth_failed).</summary>
    public const string AuthFails = "+15005550007";

    /// <summary>Sends 183 with early media before answering.</summary>
    public const string EarlyMedia = "+15005550008";

    /// <summary>Answers, but the media server loses the channel during the message (media_error).</summary>
    public const string MediaFails = "+15005550009";

    /// <summary>
    /// The callee who presses keys: <c>+15005551ABC</c> answers, presses key A at the first gather and key B at the
    /// second (0: none; the gather times out), each C seconds (1–9, sped up like playback) after the gather begins.
    /// <c>+15005551102</c> acknowledges with 1 after 2 s; <c>+15005551212</c> asks to hear it again (2), then
    /// acknowledges (1); <see cref="Answers"/> never presses anything.
    /// </summary>
    public const string PressesKeysPrefix = "+15005551";

    /// <summary>The keys a <see cref="PressesKeysPrefix"/> number presses (0 means none) and when; null for any other number.</summary>
    public static KeyPresses? KeyPressesOf(string number) =>
        number.Length == PressesKeysPrefix.Length + 3 && number.StartsWith(PressesKeysPrefix, StringComparison.Ordinal)
        && number[^3..].All(char.IsAsciiDigit) && number[^1] != '0'
            ? new KeyPresses([number[^3], number[^2]], TimeSpan.FromSeconds(number[^1] - '0'))
            : null;
}

/// <summary>What a simulated callee presses: one key per gather, in order (<c>0</c>: nothing), each <see cref="After"/> into the gather.</summary>
public sealed record KeyPresses(IReadOnlyList<char> PerGather, TimeSpan After);
