namespace Voice.Control.Media;

/// <summary>A prompt and the rules for the keys it asks for (FreeSWITCH's <c>play_and_get_digits</c>).</summary>
public sealed record CollectDigitsOptions
{
    /// <summary>No key ends input early (FreeSWITCH reads a terminator string with no key in it as none).</summary>
    public const string NoTerminator = "none";

    /// <summary>What to play while waiting: a file, URL, <c>tone_stream://</c> or <c>say:</c> string, without spaces.</summary>
    public required string Prompt { get; init; }

    public int MinDigits { get; init; } = 1;

    public int MaxDigits { get; init; } = 1;

    /// <summary>How often the prompt is played when nothing valid comes.</summary>
    public int Tries { get; init; } = 1;

    /// <summary>Wait for the first key after the prompt ends.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Wait between keys; defaults to <see cref="Timeout"/>.</summary>
    public TimeSpan? DigitTimeout { get; init; }

    /// <summary>Keys that end input early (not part of the digits): any of <c>0-9 * #</c>, or <see cref="NoTerminator"/>.</summary>
    public string Terminators { get; init; } = "#";

    /// <summary>Played after input that does not match <see cref="Pattern"/>, before the next try.</summary>
    public string? InvalidPrompt { get; init; }

    /// <summary>A regular expression (FreeSWITCH's PCRE) the digits must match, without spaces.</summary>
    public string Pattern { get; init; } = @"\d+";
}
