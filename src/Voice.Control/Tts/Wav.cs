using System.Buffers.Binary;

namespace Voice.Control.Tts;

/// <summary>16-bit mono PCM in a RIFF/WAVE file: the header we write, the samples we read back, and the silence we cut.</summary>
internal static class Wav
{
    public const int HeaderLength = 44;

    /// <summary>10 ms windows are judged by their RMS; one above this (about −42 dBFS) is speech.</summary>
    private const double SpeechRms = 256;

    /// <summary>What is kept before the first speech window, so a soft onset is not clipped.</summary>
    private static readonly TimeSpan PreRoll = TimeSpan.FromMilliseconds(20);

    /// <summary>The 44-byte RIFF/WAVE header of 16-bit PCM, mono unless <paramref name="channels"/> says otherwise.</summary>
    public static byte[] Header(int dataLength, int sampleRate, short channels = 1)
    {
        var header = new byte[HeaderLength];
        var span = header.AsSpan();
        "RIFF"u8.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], 36 + dataLength);
        "WAVE"u8.CopyTo(span[8..]);
        "fmt "u8.CopyTo(span[12..]);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], 16); // fmt chunk size
        BinaryPrimitives.WriteInt16LittleEndian(span[20..], 1); // PCM
        BinaryPrimitives.WriteInt16LittleEndian(span[22..], channels);
        BinaryPrimitives.WriteInt32LittleEndian(span[24..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(span[28..], sampleRate * 2 * channels); // byte rate
        BinaryPrimitives.WriteInt16LittleEndian(span[32..], (short)(2 * channels)); // block align
        BinaryPrimitives.WriteInt16LittleEndian(span[34..], 16); // bits per sample
        "data"u8.CopyTo(span[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(span[40..], dataLength);
        return header;
    }

    /// <summary>
    /// The samples and rate of a 16-bit mono PCM WAV file (as flite writes it), walking the chunks to <c>data</c>.
    /// </summary>
    /// <exception cref="FormatException">Not a 16-bit mono PCM WAV file.</exception>
    public static (ReadOnlyMemory<byte> Samples, int SampleRate) Read(byte[] file)
    {
        var span = file.AsSpan();
        if (span.Length < 12 || !span[..4].SequenceEqual("RIFF"u8) || !span[8..12].SequenceEqual("WAVE"u8))
        {
            throw new FormatException("not a RIFF/WAVE file");
        }
        int? rate = null;
        var offset = 12;
        while (offset + 8 <= span.Length)
        {
            var id = span.Slice(offset, 4);
            var size = BinaryPrimitives.ReadInt32LittleEndian(span[(offset + 4)..]);
            var body = offset + 8;
            if (size < 0 || body > span.Length)
            {
                break;
            }
            if (id.SequenceEqual("fmt "u8) && size >= 16 && body + 16 <= span.Length)
            {
                var format = BinaryPrimitives.ReadInt16LittleEndian(span[body..]);
                var channels = BinaryPrimitives.ReadInt16LittleEndian(span[(body + 2)..]);
                var bits = BinaryPrimitives.ReadInt16LittleEndian(span[(body + 14)..]);
                if (format != 1 || channels != 1 || bits != 16)
                {
                    throw new FormatException($"WAV format {format}, {channels} channels, {bits} bits; 16-bit mono PCM expected");
                }
                rate = BinaryPrimitives.ReadInt32LittleEndian(span[(body + 4)..]);
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (rate is not { } sampleRate || sampleRate <= 0)
                {
                    throw new FormatException("the data chunk comes before a valid fmt chunk");
                }
                // flite leaves the data size unset (0 or too large) when it cannot seek back: take what is there.
                var length = size == 0 || body + size > span.Length ? span.Length - body : size;
                return (file.AsMemory(body, length & ~1), sampleRate);
            }
            offset = body + size + (size & 1);
        }
        throw new FormatException("no data chunk");
    }

    /// <summary>
    /// The layout of a 16-bit PCM WAV file from its first bytes (<paramref name="head"/>, a few hundred are enough) and its
    /// length: channels, rate, and how long its samples play. Null when it is not one.
    /// </summary>
    public static (int Channels, int SampleRate, TimeSpan Duration)? Describe(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length < 12 || !head[..4].SequenceEqual("RIFF"u8) || !head[8..12].SequenceEqual("WAVE"u8))
        {
            return null;
        }
        (int Channels, int Rate)? format = null;
        var offset = 12;
        while (offset + 8 <= head.Length)
        {
            var id = head.Slice(offset, 4);
            var size = BinaryPrimitives.ReadInt32LittleEndian(head[(offset + 4)..]);
            var body = offset + 8;
            if (id.SequenceEqual("fmt "u8) && size >= 16 && body + 16 <= head.Length)
            {
                var channels = BinaryPrimitives.ReadInt16LittleEndian(head[(body + 2)..]);
                var rate = BinaryPrimitives.ReadInt32LittleEndian(head[(body + 4)..]);
                var bits = BinaryPrimitives.ReadInt16LittleEndian(head[(body + 14)..]);
                format = channels > 0 && rate > 0 && bits == 16 ? (channels, rate) : null;
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (format is not { } known)
                {
                    return null;
                }
                // A file still being written, or whose writer could not seek back, has a size that does not match: count what is there.
                var samples = Math.Max(0, fileLength - body);
                return (known.Channels, known.Rate, TimeSpan.FromSeconds(samples / (2.0 * known.Channels * known.Rate)));
            }
            if (size < 0)
            {
                return null;
            }
            offset = body + size + (size & 1);
        }
        return null;
    }

    /// <summary>How long the PCM of a WAV file of <paramref name="fileLength"/> bytes plays.</summary>
    public static TimeSpan Duration(long fileLength, int sampleRate) =>
        TimeSpan.FromSeconds(Math.Max(0, fileLength - HeaderLength) / (2.0 * sampleRate));

    /// <summary>The sample rate in a header we wrote.</summary>
    public static int SampleRateOf(ReadOnlySpan<byte> header) =>
        header.Length >= HeaderLength ? BinaryPrimitives.ReadInt32LittleEndian(header[24..]) : 0;

    /// <summary>
    /// The samples from just before the first speech: TTS voices open with up to a quarter second of near-silence
    /// (flite's kal: 210 ms), which the callee would hear as a late start. All-quiet audio is kept whole.
    /// </summary>
    public static ReadOnlyMemory<byte> TrimLeadingSilence(ReadOnlyMemory<byte> pcm, int sampleRate)
    {
        var samples = pcm.Span;
        var window = Math.Max(1, sampleRate / 100);
        var count = samples.Length / 2;
        for (var start = 0; start + window <= count; start += window)
        {
            double sum = 0;
            for (var i = start; i < start + window; i++)
            {
                double sample = BinaryPrimitives.ReadInt16LittleEndian(samples[(2 * i)..]);
                sum += sample * sample;
            }
            if (Math.Sqrt(sum / window) > SpeechRms)
            {
                var from = Math.Max(0, start - (int)(PreRoll.TotalSeconds * sampleRate));
                return pcm[(2 * from)..];
            }
        }
        return pcm;
    }
}
