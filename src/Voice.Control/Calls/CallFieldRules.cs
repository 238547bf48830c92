namespace Voice.Control.Calls;

/// <summary>The shape rules of call request fields, shared by the library's checks and the host's validator.</summary>
public static class CallFieldRules
{
    public const int MaxMessageLength = 1000;

    /// <summary>What <see cref="IsCallerId"/> asks for, as an error says it.</summary>
    public const string CallerIdRule = "must be a phone number or SIP user (letters, digits, + - . _ * #), at most 64 characters";

    /// <summary>A phone number or SIP user part: letters, digits and <c>+ - . _ * #</c>, 1–64 characters.</summary>
    public static bool IsCallerId(string value) =>
        value.Length is > 0 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.' or '_' or '*' or '#');

    /// <summary>A TTS voice name or id: letters, digits and <c>_ - .</c>, 1–64 characters.</summary>
    public static bool IsVoiceName(string value) =>
        value.Length is > 0 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    /// <summary>An application's name: letters, digits, <c>_</c> and <c>-</c>, 1–64 characters.</summary>
    public static bool IsApplicationName(string value) =>
        value.Length is > 0 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}
