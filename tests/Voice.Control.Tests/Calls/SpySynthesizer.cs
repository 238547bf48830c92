using Voice.Control.Tts;

namespace Voice.Control.Tests.Calls;

/// <summary>Renders with flite and notes when it was asked, among other events a test notes, in one ordered list.</summary>
public sealed class SpySynthesizer : ISpeechSynthesizer
{
    private readonly FliteSynthesizer _flite = new();
    private readonly List<string> _events = [];

    public List<string> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public void Note(string e)
    {
        lock (_events)
        {
            _events.Add(e);
        }
    }

    public Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct)
    {
        Note("synthesize");
        return _flite.SynthesizeAsync(text, voice, ct);
    }
}
