namespace Voice.Control.Tts;

/// <summary>
/// A message ready to play: an audio file or URL FreeSWITCH plays (a cloud voice), or text FreeSWITCH speaks
/// itself with flite. Either way it says how long it takes, for the simulated backend and for timeouts.
/// </summary>
public sealed record SpeechAudio
{
    /// <summary>The provider that rendered it (<c>elevenlabs</c>, <c>flite</c>).</summary>
    public required string Provider { get; init; }

    /// <summary>A file path on the FreeSWITCH host or an http(s) URL; null for flite text.</summary>
    public string? Source { get; init; }

    /// <summary>For flite: the text to speak (FreeSWITCH renders it).</summary>
    public string? Text { get; init; }

    /// <summary>For flite: the voice (<c>kal</c>, <c>slt</c>…).</summary>
    public string? Voice { get; init; }

    /// <summary>How long it plays, measured for files and estimated for text.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Taken from the cache rather than rendered for this call.</summary>
    public bool FromCache { get; init; }

    public static SpeechAudio Flite(string text, string voice) => new()
    {
        Provider = "flite",
        Text = text,
        Voice = voice,
        Duration = EstimateSpokenDuration(text),
    };

    /// <summary>About 150 words a minute, as TTS voices speak: 14 characters a second, at least one second.</summary>
    public static TimeSpan EstimateSpokenDuration(string text) => TimeSpan.FromSeconds(Math.Max(1, text.Length / 14.0));
}
