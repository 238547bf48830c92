namespace Voice.Control.Tts;

/// <summary>A rendered message in the <see cref="SpeechCache"/>: its file, how long it plays, and whether it was there already.</summary>
internal sealed record CachedSpeech(string Path, TimeSpan Duration, bool FromCache)
{
    public static CachedSpeech Of(string path, bool fromCache)
    {
        Span<byte> header = stackalloc byte[Wav.HeaderLength];
        long length;
        using (var file = File.OpenRead(path))
        {
            length = file.Length;
            file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        var rate = Wav.SampleRateOf(header);
        return new CachedSpeech(path, rate > 0 ? Wav.Duration(length, rate) : TimeSpan.Zero, fromCache);
    }
}
