namespace Voice.Control.Tts;

/// <summary>ElevenLabs text-to-speech (<c>ELEVENLABS_API_KEY</c>).</summary>
public sealed record ElevenLabsOptions
{
    public required string ApiKey { get; init; }

    public Uri BaseUrl { get; init; } = new("https://api.elevenlabs.io/");

    /// <summary>The voice when a request names none.</summary>
    public string VoiceId { get; init; } = "JBFqnCBsd6RMkjVDRZzb";

    public string ModelId { get; init; } = "eleven_flash_v2_5";

    /// <summary>
    /// Raw PCM that VoiceBridge wraps in a WAV header, which FreeSWITCH plays (and resamples) without any codec
    /// module: <c>pcm_8000</c>, <c>pcm_16000</c>, <c>pcm_22050</c>, <c>pcm_24000</c>.
    /// </summary>
    public string OutputFormat { get; init; } = "pcm_16000";

    /// <summary>Per attempt.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Attempts after the first on 429, 5xx, timeouts and connection errors.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>The first retry waits this long, each next one twice as long (capped at 8 s).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    internal int SampleRate => int.Parse(OutputFormat["pcm_".Length..], System.Globalization.CultureInfo.InvariantCulture);

    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ApiKey, nameof(ApiKey));
        if (OutputFormat is not ("pcm_8000" or "pcm_16000" or "pcm_22050" or "pcm_24000"))
        {
            throw new ArgumentException($"OutputFormat '{OutputFormat}' must be pcm_8000, pcm_16000, pcm_22050 or pcm_24000.", nameof(OutputFormat));
        }
        if (Timeout <= TimeSpan.Zero || MaxRetries < 0 || RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentException("Timeout must be positive, MaxRetries and RetryDelay not negative.");
        }
    }
}
