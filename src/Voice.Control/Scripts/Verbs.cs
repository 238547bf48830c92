using System.Text.Json;
using Voice.Control.Calls;

namespace Voice.Control.Scripts;

/// <summary>
/// One step of a call script. The JSON shapes follow jambonz's verbs where they overlap (<c>{"verb":"say","text":…}</c>);
/// what VoiceBridge adds is documented as its extension on each verb.
/// </summary>
public abstract record Verb
{
    /// <summary>The verb's name in JSON: say, play, pause, gather, dtmf, hangup, tag, redirect, record, dial.</summary>
    public abstract string Name { get; }
}

/// <summary>Speaks <see cref="Text"/> (rendered by the configured TTS, ahead of time), <see cref="Loop"/> times.</summary>
public sealed record SayVerb(string Text, string? Voice = null, int Loop = 1) : Verb
{
    public override string Name => "say";
}

/// <summary>Plays an audio file from an http(s) URL, or from a path on the media server, <see cref="Loop"/> times.</summary>
public sealed record PlayVerb(string Url, int Loop = 1) : Verb
{
    public override string Name => "play";
}

/// <summary>Silence for <see cref="Length"/>.</summary>
public sealed record PauseVerb(TimeSpan Length) : Verb
{
    public override string Name => "pause";
}

/// <summary>
/// Collects key presses (RFC 2833), with a prompt that the first key interrupts. Ends on <see cref="NumDigits"/>
/// digits, on <see cref="FinishOnKey"/>, on <see cref="MaxDigits"/>, or when no key comes within
/// <see cref="Timeout"/> (the first) or <see cref="InterDigitTimeout"/> (the next ones). With an
/// <see cref="ActionHook"/>, the result is POSTed there and a verb list in the answer replaces the rest of the script.
/// </summary>
public sealed record GatherVerb : Verb
{
    public override string Name => "gather";

    /// <summary>Exactly this many digits; null when <see cref="MinDigits"/>/<see cref="MaxDigits"/> decide.</summary>
    public int? NumDigits { get; init; }

    public int MinDigits { get; init; } = 1;

    public int MaxDigits { get; init; } = 1;

    /// <summary>The key that ends input early (not part of the digits); null for none.</summary>
    public char? FinishOnKey { get; init; }

    /// <summary>How long to wait for the first key after the prompt.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for each key after the first.</summary>
    public TimeSpan InterDigitTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>What is said or played while waiting; a key press stops it.</summary>
    public Verb? Prompt { get; init; }

    /// <summary>Where the result is POSTed (signed like webhooks); null: the script simply continues.</summary>
    public Uri? ActionHook { get; init; }

    /// <summary>VoiceBridge extension: how many times the prompt is given when no valid input comes (jambonz: one).</summary>
    public int Tries { get; init; } = 1;

    /// <summary>VoiceBridge extension: said before the next try after no or invalid input.</summary>
    public SayVerb? InvalidPrompt { get; init; }

    /// <summary>The fewest digits that end the gather as detected input.</summary>
    public int Fewest => NumDigits ?? MinDigits;

    /// <summary>The most digits collected.</summary>
    public int Most => NumDigits ?? MaxDigits;
}

/// <summary>Sends digits to the far end as RFC 2833 events (an IVR after connect); <c>w</c> waits 0.5 s, <c>W</c> 1 s.</summary>
public sealed record DtmfVerb(string Digits, TimeSpan ToneDuration) : Verb
{
    public override string Name => "dtmf";
}

/// <summary>Ends the call.</summary>
public sealed record HangupVerb : Verb
{
    public override string Name => "hangup";
}

/// <summary>
/// VoiceBridge extension: starts (<c>{"verb":"record","action":"start"}</c>) or stops (<c>"action":"stop"</c>) recording
/// the call to a WAV file, the far end on the left channel and what the call plays on the right (<c>"mixType":"stereo"</c>,
/// the default), or both in one (<c>"mixed"</c>). A recording still running when the call ends stops with it. A recording
/// that fails is reported on the call, which goes on.
/// </summary>
public sealed record RecordVerb(bool Start, bool Stereo = true) : Verb
{
    public override string Name => "record";

    public static RecordVerb StartStereo { get; } = new(true);
}

/// <summary>
/// Connects the call to another party (jambonz's <c>dial</c>): every target rings at once, on a second leg of the same
/// media server; the first to answer is bridged to the call and the others are cancelled. Either party hanging up then
/// ends the call. When nobody answers within <see cref="Timeout"/> (or every target is busy or fails), the script goes on.
/// </summary>
/// <param name="Targets">Phone numbers or PBX extensions, 1–5.</param>
/// <param name="Timeout">How long the targets ring.</param>
/// <param name="CallerId">What the targets see; null: the configured default caller ID.</param>
public sealed record DialVerb(IReadOnlyList<string> Targets, TimeSpan Timeout, string? CallerId = null) : Verb
{
    public const int MaxTargets = 5;

    public override string Name => "dial";
}

/// <summary>Attaches data to the call (a JSON object): it rides along in every later state change and webhook.</summary>
public sealed record TagVerb(JsonElement Data) : Verb
{
    public override string Name => "tag";
}

/// <summary>Fetches the rest of the script from <see cref="ActionHook"/> (a POST, signed like webhooks).</summary>
public sealed record RedirectVerb(Uri ActionHook) : Verb
{
    public override string Name => "redirect";
}

/// <summary>
/// How an alert asks to be acknowledged (the <c>acknowledge</c> shorthand of a request): after the message, "press
/// <see cref="Digit"/> to acknowledge, <see cref="RepeatDigit"/> to hear it again"; up to <see cref="Tries"/> times.
/// </summary>
public sealed record Acknowledgement
{
    /// <summary>The key that acknowledges.</summary>
    public char Digit { get; init; } = '1';

    /// <summary>The key that repeats the message; null: none (any other key, or none, also repeats while tries are left).</summary>
    public char? RepeatDigit { get; init; } = '2';

    /// <summary>How often the message and the question are given before the alert counts as not acknowledged, 1–5.</summary>
    public int Tries { get; init; } = 3;

    /// <summary>The question after the message; null: "Press 1 to acknowledge, 2 to hear it again."</summary>
    public string? Prompt { get; init; }

    /// <summary>How long to wait for the key after the question.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Said once the digit is pressed, before hanging up.</summary>
    public string Confirmation { get; init; } = "Acknowledged. Goodbye.";

    /// <summary>The first problem with these settings: the field (<c>digit</c>, <c>tries</c>…) and why; null when there is none.</summary>
    public ScriptProblem? Problem()
    {
        const string Keys = "0123456789*#";
        if (!Keys.Contains(Digit, StringComparison.Ordinal))
        {
            return new ScriptProblem("digit", "must be one key: 0-9, * or #");
        }
        if (RepeatDigit is { } repeat && (!Keys.Contains(repeat, StringComparison.Ordinal) || repeat == Digit))
        {
            return new ScriptProblem("repeatDigit", "must be one key (0-9, * or #) other than the digit");
        }
        if (Tries is < 1 or > 5)
        {
            return new ScriptProblem("tries", "must be between 1 and 5");
        }
        if (Prompt is { } prompt && (string.IsNullOrWhiteSpace(prompt) || prompt.Length > CallFieldRules.MaxMessageLength || prompt.Any(char.IsControl)))
        {
            return new ScriptProblem("prompt", $"must be 1–{CallFieldRules.MaxMessageLength} characters on one line");
        }
        if (Timeout < TimeSpan.FromSeconds(1) || Timeout > TimeSpan.FromSeconds(60))
        {
            return new ScriptProblem("timeout", "must be between 1 and 60 seconds");
        }
        if (string.IsNullOrWhiteSpace(Confirmation) || Confirmation.Length > CallFieldRules.MaxMessageLength || Confirmation.Any(char.IsControl))
        {
            return new ScriptProblem("confirmation", $"must be 1–{CallFieldRules.MaxMessageLength} characters on one line");
        }
        return null;
    }

    /// <summary>The question as said: <see cref="Prompt"/>, or one made from the digits.</summary>
    public string Question => Prompt ?? (RepeatDigit is { } repeat
        ? $"Press {Digit} to acknowledge, {repeat} to hear it again."
        : $"Press {Digit} to acknowledge.");
}

/// <summary>
/// VoiceBridge extension, made by the <c>acknowledge</c> shorthand (not read from JSON): <see cref="Message"/>, then
/// the question; the result is the call's <see cref="Calls.CallResults.Acknowledged"/>.
/// </summary>
public sealed record AcknowledgeVerb(SayVerb Message, Acknowledgement Rules) : Verb
{
    public override string Name => "acknowledge";
}
