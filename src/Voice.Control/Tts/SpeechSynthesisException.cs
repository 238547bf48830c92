namespace Voice.Control.Tts;

/// <summary>A TTS provider could not render a message; the message says why in terms an operator can act on.</summary>
public sealed class SpeechSynthesisException(string provider, string message, int? statusCode = null, Exception? inner = null)
    : Exception($"{provider}: {message}", inner)
{
    public string Provider { get; } = provider;

    /// <summary>The provider's HTTP status, when it answered.</summary>
    public int? StatusCode { get; } = statusCode;
}
