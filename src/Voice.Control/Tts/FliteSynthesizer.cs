namespace Voice.Control.Tts;

/// <summary>FreeSWITCH's built-in flite: no key, no network; the media server renders the text as it plays.</summary>
public sealed class FliteSynthesizer(string defaultVoice = "kal") : ISpeechSynthesizer
{
    private static readonly HashSet<string> Voices = new(StringComparer.Ordinal) { "kal", "kal16", "slt", "rms", "awb" };

    public Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        voice ??= defaultVoice;
        if (!Voices.Contains(voice))
        {
            throw new ArgumentException($"flite has no voice '{voice}'; it has {string.Join(", ", Voices)}", nameof(voice));
        }
        return Task.FromResult(SpeechAudio.Flite(text, voice));
    }
}
