namespace Voice.Control.Tts;

/// <summary>Turns a message into something the media server can play.</summary>
public interface ISpeechSynthesizer
{
    /// <summary>Renders <paramref name="text"/> in <paramref name="voice"/> (null: the configured default).</summary>
    Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct);
}
