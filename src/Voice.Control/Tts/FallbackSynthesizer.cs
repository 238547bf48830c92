using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Voice.Control.Tts;

/// <summary>
/// A cloud voice with a fallback: when the primary provider fails (down, over quota, refused key), the message
/// is rendered by the fallback — FreeSWITCH's flite — in its default voice, so the call still speaks.
/// </summary>
public sealed class FallbackSynthesizer(ISpeechSynthesizer primary, ISpeechSynthesizer fallback, ILogger<FallbackSynthesizer>? logger = null) : ISpeechSynthesizer
{
    private readonly ILogger _logger = logger ?? NullLogger<FallbackSynthesizer>.Instance;

    /// <summary>The voice is the primary's: the fallback speaks in its own default voice.</summary>
    public string? VoiceProblem(string voice) => primary.VoiceProblem(voice);

    public async Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct)
    {
        try
        {
            return await primary.SynthesizeAsync(text, voice, ct).ConfigureAwait(false);
        }
        catch (SpeechSynthesisException ex) when (!ct.IsCancellationRequested)
        {
            _logger.LogWarning("{Error}; speaking the message with the fallback voice instead", ex.Message);
            // The primary's voice id means nothing to the fallback: use its default voice.
            return await fallback.SynthesizeAsync(text, null, ct).ConfigureAwait(false);
        }
    }
}
