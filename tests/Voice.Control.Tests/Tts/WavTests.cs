using System.Buffers.Binary;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Tts;

public class WavTests
{
    /// <summary>16-bit PCM: <paramref name="quietMs"/> of low noise (as flite opens with), then a loud tone.</summary>
    internal static byte[] QuietThenSpeech(int sampleRate, int quietMs, int speechMs)
    {
        var quiet = sampleRate * quietMs / 1000;
        var total = quiet + (sampleRate * speechMs / 1000);
        var pcm = new byte[total * 2];
        for (var i = 0; i < total; i++)
        {
            var sample = i < quiet ? (short)((i % 7) * 15 - 45) : (short)(8000 * Math.Sin(2 * Math.PI * 440 * i / sampleRate));
            BinaryPrimitives.WriteInt16LittleEndian(pcm.AsSpan(2 * i), sample);
        }
        return pcm;
    }

    [Test]
    public void The_quiet_opening_is_cut_to_a_20_ms_pre_roll()
    {
        var pcm = QuietThenSpeech(8000, quietMs: 218, speechMs: 500);

        var trimmed = Wav.TrimLeadingSilence(pcm, 8000);

        // Speech starts at 218 ms, inside the 210–220 ms window; 20 ms before that window is kept.
        Assert.That(trimmed.Length, Is.EqualTo(pcm.Length - (2 * 8000 * 190 / 1000)));
        Assert.That(Wav.TrimLeadingSilence(QuietThenSpeech(16000, 218, 500), 16000).Length, Is.EqualTo((16000 * (718 - 190) / 1000) * 2));
    }

    [Test]
    public void Audio_that_starts_with_speech_or_is_all_quiet_is_kept_whole()
    {
        var speech = QuietThenSpeech(8000, quietMs: 0, speechMs: 300);
        var quiet = QuietThenSpeech(8000, quietMs: 300, speechMs: 0);

        Assert.That(Wav.TrimLeadingSilence(speech, 8000).Length, Is.EqualTo(speech.Length));
        Assert.That(Wav.TrimLeadingSilence(quiet, 8000).Length, Is.EqualTo(quiet.Length));
        Assert.That(Wav.TrimLeadingSilence(Array.Empty<byte>(), 8000).Length, Is.Zero);
    }

    [Test]
    public void A_file_with_extra_chunks_and_no_data_size_is_read_to_its_samples()
    {
        // flite writing to a pipe cannot seek back to fill in the sizes; other writers put LIST chunks before data.
        var pcm = QuietThenSpeech(16000, 0, 100);
        var header = Wav.Header(0, 16000);
        var list = "LIST"u8.ToArray().Concat(new byte[] { 4, 0, 0, 0 }).Concat("INFO"u8.ToArray()).ToArray();
        var file = header[..36].Concat(list).Concat(header[36..]).Concat(pcm).ToArray();

        var (samples, rate) = Wav.Read(file);

        Assert.That(rate, Is.EqualTo(16000));
        Assert.That(samples.ToArray(), Is.EqualTo(pcm));
    }

    [Test]
    public void Anything_but_16_bit_mono_PCM_is_refused_with_what_it_is()
    {
        var stereo = Wav.Header(4, 8000);
        BinaryPrimitives.WriteInt16LittleEndian(stereo.AsSpan(22), 2);

        Assert.That(() => Wav.Read("RIFX...."u8.ToArray()), Throws.InstanceOf<FormatException>().With.Message.Contains("not a RIFF/WAVE file"));
        Assert.That(() => Wav.Read(stereo.Concat(new byte[4]).ToArray()), Throws.InstanceOf<FormatException>().With.Message.Contains("2 channels"));
        Assert.That(() => Wav.Read(Wav.Header(0, 8000)[..36]), Throws.InstanceOf<FormatException>().With.Message.Contains("no data chunk"));
    }
}
