namespace Voice.Control.Media;

/// <summary>FreeSWITCH's own text-to-speech: the <c>speak</c> application with an engine and a voice.</summary>
public sealed record SpeakOptions
{
    public static SpeakOptions Default { get; } = new();

    /// <summary>The TTS module (<c>flite</c> ships with FreeSWITCH and needs no key).</summary>
    public string Engine { get; init; } = "flite";

    /// <summary>The engine's voice: for flite <c>kal</c>, <c>slt</c>, <c>rms</c>, <c>awb</c>.</summary>
    public string Voice { get; init; } = "kal";
}
