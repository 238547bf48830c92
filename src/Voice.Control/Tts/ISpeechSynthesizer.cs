namespace Voice.Control.Tts;

/// <summary>Turns a message into something the media server can play.</summary>
public interface ISpeechSynthesizer
{
    /// <summary>Renders <paramref name="text"/> in <paramref name="voice"/> (null: the configured default).</summary>
    Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct);

    /// <summary>
    /// Null when <paramref name="voice"/> is one this engine can speak in; otherwise why not, in words for the
    /// caller (checked when a call is placed, so a wrong voice is refused instead of failing the call later).
    /// </summary>
    string? VoiceProblem(string voice) => null;
}
