using System.Buffers.Binary;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Tts;

/// <summary>
/// flite rendering into the speech cache: with a stand-in program that shows what it was asked (how often, with
/// which arguments and text), and with the real flite of Debian's package, which <c>.ci/run</c> installs.
/// </summary>
public class FliteSynthesizerTests
{
    private string _directory = null!;
    private SpeechCache _cache = null!;

    [SetUp]
    public void Create()
    {
        _directory = Path.Combine(Path.GetTempPath(), "vb-flite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _cache = new SpeechCache(new SpeechCacheOptions { Directory = Path.Combine(_directory, "cache") });
    }

    [TearDown]
    public void Remove() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// A stand-in for flite: logs its arguments and the text file it was given, waits a little (so concurrent
    /// callers overlap), and writes a WAV with 200 ms of quiet before a tone, as flite's voices open.
    /// </summary>
    private string StandIn(int exitCode = 0)
    {
        var wav = Path.Combine(_directory, "speech.wav");
        var pcm = WavTests.QuietThenSpeech(8000, quietMs: 200, speechMs: 1000);
        File.WriteAllBytes(wav, Wav.Header(pcm.Length, 8000).Concat(pcm).ToArray());
        var script = Path.Combine(_directory, "flite");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            echo "$@" >> '{{_directory}}/calls'
            cat "$4" > '{{_directory}}/text'
            sleep 0.2
            if [ {{exitCode}} -ne 0 ]; then echo "unknown voice" >&2; exit {{exitCode}}; fi
            cp '{{wav}}' "$6"
            """.Replace("\r", "", StringComparison.Ordinal));
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("the stand-in is a shell script");
        }
        else
        {
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return script;
    }

    private string[] Calls() => File.Exists(Path.Combine(_directory, "calls")) ? File.ReadAllLines(Path.Combine(_directory, "calls")) : [];

    [Test]
    public async Task A_message_is_rendered_once_into_a_file_that_starts_with_speech()
    {
        var flite = new FliteSynthesizer(_cache, StandIn(), "kal", TestLog.For<FliteSynthesizer>());

        var together = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => flite.SynthesizeAsync("Disk full on nas-01", null, CancellationToken.None))).Within();
        var again = await flite.SynthesizeAsync("Disk full on nas-01", null, CancellationToken.None).Within();

        Assert.That(Calls(), Has.Length.EqualTo(1), "five callers at once and one later: one rendering");
        Assert.That(Calls()[0], Does.Match("^-voice kal -f .+\\.txt -o .+\\.wav$"));
        Assert.That(together.Select(a => a.Source).Append(again.Source).Distinct().Single(), Does.StartWith(Path.Combine(_directory, "cache")));
        Assert.That((again.Provider, again.FromCache, again.Text), Is.EqualTo(("flite", true, (string?)null)));
        var (samples, rate) = Wav.Read(await File.ReadAllBytesAsync(again.Source!));
        Assert.That(rate, Is.EqualTo(8000));
        Assert.That(again.Duration, Is.EqualTo(TimeSpan.FromMilliseconds(1020)), "the 200 ms quiet opening cut to a 20 ms pre-roll");
        Assert.That(Math.Abs((int)BinaryPrimitives.ReadInt16LittleEndian(samples.Span[(2 * 8000 * 20 / 1000)..])), Is.LessThan(300));
        Assert.That(Directory.GetFiles(Path.GetTempPath(), "voicebridge-flite-*"), Is.Empty.Or.All.Not.Contains(Path.GetFileName(again.Source!)), "temporary files removed");
    }

    [Test]
    public async Task The_text_reaches_flite_through_a_file_whatever_it_contains()
    {
        var flite = new FliteSynthesizer(_cache, StandIn(), "kal");
        const string Hostile = "-voice awb \"; rm -rf / #\n$(reboot) `id` ${HOME}";

        await flite.SynthesizeAsync(Hostile, "slt", CancellationToken.None).Within();

        Assert.That(await File.ReadAllTextAsync(Path.Combine(_directory, "text")), Is.EqualTo(Hostile));
        Assert.That(Calls().Single(), Does.StartWith("-voice slt -f "));
    }

    [Test]
    public async Task A_failing_flite_fails_the_rendering_with_its_error_and_the_next_caller_tries_again()
    {
        var flite = new FliteSynthesizer(_cache, StandIn(exitCode: 3), "kal");

        var ex = await Assert.ThrowsAsync<SpeechSynthesisException>(() => flite.SynthesizeAsync("Hello", null, CancellationToken.None).Within());
        Assert.That(ex!.Message, Does.Contain("exit code 3").And.Contains("unknown voice"));
        await Assert.ThrowsAsync<SpeechSynthesisException>(() => flite.SynthesizeAsync("Hello", null, CancellationToken.None).Within());
        Assert.That(Calls(), Has.Length.EqualTo(2));
    }

    [Test]
    public async Task Without_the_program_FreeSWITCH_speaks_the_text_and_the_log_says_why()
    {
        var log = new TestLog.Capture();
        var flite = new FliteSynthesizer(_cache, Path.Combine(_directory, "no-such-flite"), "kal", log.For<FliteSynthesizer>());

        var audio = await flite.SynthesizeAsync("Hello there", "rms", CancellationToken.None).Within();

        Assert.That(flite.RendersFiles, Is.False);
        Assert.That((audio.Source, audio.Text, audio.Voice), Is.EqualTo(((string?)null, "Hello there", "rms")));
        Assert.That(log.Lines, Has.Some.Contains("was not found").And.Contains("apt install flite"));
    }

    [Test]
    public async Task An_unknown_voice_is_refused_before_anything_runs()
    {
        var flite = new FliteSynthesizer(_cache, StandIn(), "kal");
        await Assert.ThrowsAsync<ArgumentException>(() => flite.SynthesizeAsync("Hello", "bogus", CancellationToken.None));
        Assert.That(Calls(), Is.Empty);
    }

    [Test]
    public async Task Debian_flite_renders_speech_that_starts_at_once()
    {
        if (!File.Exists("/usr/bin/flite"))
        {
            Assert.Ignore("flite is not installed (Debian: apt install flite; .ci/run installs it)");
        }
        var flite = new FliteSynthesizer(_cache, "flite", "kal");

        var audio = await flite.SynthesizeAsync("Attention. The disk on server web one is full.", null, CancellationToken.None).Within();

        var (samples, rate) = Wav.Read(await File.ReadAllBytesAsync(audio.Source!));
        Assert.That(rate, Is.EqualTo(8000), "kal speaks at 8 kHz");
        Assert.That(audio.Duration, Is.InRange(TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(6)));
        // flite's kal opens with ~210 ms of quiet; after the cut, speech is loud within the first 40 ms.
        var opening = samples.Span[..(2 * rate * 40 / 1000)];
        var peak = 0;
        for (var i = 0; i < opening.Length; i += 2)
        {
            peak = Math.Max(peak, Math.Abs((int)BinaryPrimitives.ReadInt16LittleEndian(opening[i..])));
        }
        Assert.That(peak, Is.GreaterThan(1000));
    }
}
