using System.Buffers.Binary;
using System.Text.Json;
using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Tts;

/// <summary>ElevenLabs through RestSharp against an in-process fake of its API, with the cache on a temporary directory.</summary>
public class ElevenLabsTests
{
    private FakeElevenLabs _api = null!;
    private string _directory = null!;
    private SpeechCache _cache = null!;

    [SetUp]
    public async Task Start()
    {
        _api = await FakeElevenLabs.StartAsync();
        _directory = Path.Combine(Path.GetTempPath(), "vb-tts-" + Guid.NewGuid().ToString("N"));
        _cache = new SpeechCache(new SpeechCacheOptions { Directory = _directory });
    }

    [TearDown]
    public async Task Stop()
    {
        await _api.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private ElevenLabsSynthesizer Synthesizer(TimeSpan? timeout = null) => new(new ElevenLabsOptions
    {
        ApiKey = "sk-test",
        BaseUrl = _api.BaseUrl,
        Timeout = timeout ?? TimeSpan.FromSeconds(5),
        RetryDelay = TimeSpan.FromMilliseconds(20),
    }, _cache, TestLog.For<ElevenLabsSynthesizer>());

    [Test]
    public async Task A_message_becomes_a_16_kHz_WAV_file_FreeSWITCH_can_play()
    {
        using var tts = Synthesizer();
        var audio = await tts.SynthesizeAsync("The backup on nas-01 failed.", null, CancellationToken.None).Within();

        Assert.That(audio.Provider, Is.EqualTo("elevenlabs"));
        Assert.That(audio.FromCache, Is.False);
        Assert.That(audio.Duration, Is.EqualTo(TimeSpan.FromSeconds(0.5)));
        Assert.That(Path.GetDirectoryName(audio.Source), Is.EqualTo(_directory));
        var wav = await File.ReadAllBytesAsync(audio.Source!);
        Assert.That(wav[..4], Is.EqualTo("RIFF"u8.ToArray()));
        Assert.That(wav[8..12], Is.EqualTo("WAVE"u8.ToArray()));
        Assert.That(BinaryPrimitives.ReadInt16LittleEndian(wav.AsSpan(20)), Is.EqualTo(1), "PCM");
        Assert.That(BinaryPrimitives.ReadInt32LittleEndian(wav.AsSpan(24)), Is.EqualTo(16000), "sample rate");
        Assert.That(BinaryPrimitives.ReadInt32LittleEndian(wav.AsSpan(40)), Is.EqualTo(16000), "data bytes");
        Assert.That(wav.Length, Is.EqualTo(44 + 16000));
        Assert.That(Directory.GetFiles(_directory, "*.tmp"), Is.Empty, "written under a temporary name, then moved");

        var request = _api.Requests.Single();
        Assert.That((request.Voice, request.OutputFormat, request.ApiKey), Is.EqualTo(("JBFqnCBsd6RMkjVDRZzb", "pcm_16000", "sk-test")));
        using var body = JsonDocument.Parse(request.Body);
        Assert.That(body.RootElement.GetProperty("text").GetString(), Is.EqualTo("The backup on nas-01 failed."));
        Assert.That(body.RootElement.GetProperty("model_id").GetString(), Is.EqualTo("eleven_flash_v2_5"));
    }

    [Test]
    public async Task The_same_message_is_rendered_once_and_a_new_voice_is_rendered_anew()
    {
        using var tts = Synthesizer();
        var first = await tts.SynthesizeAsync("Disk full", null, CancellationToken.None);
        var again = await tts.SynthesizeAsync("Disk full", null, CancellationToken.None);
        Assert.That(again.FromCache, Is.True);
        Assert.That(again.Source, Is.EqualTo(first.Source));
        Assert.That(_api.Requests, Has.Count.EqualTo(1), "no second request for the same message");

        var together = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => tts.SynthesizeAsync("Power failure", null, CancellationToken.None)));
        Assert.That(together.Select(a => a.Source).Distinct().Count(), Is.EqualTo(1));
        Assert.That(_api.Requests, Has.Count.EqualTo(2), "five concurrent callers, one rendering");

        await tts.SynthesizeAsync("Disk full", "otherVoice", CancellationToken.None);
        Assert.That(_api.Requests, Has.Count.EqualTo(3));
        Assert.That(_api.Requests[^1].Voice, Is.EqualTo("otherVoice"));
    }

    [Test]
    public async Task A_refused_key_fails_at_once_and_says_so()
    {
        _api.Reply(401, """{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}""");
        using var tts = Synthesizer();
        var ex = await Assert.ThrowsAsync<SpeechSynthesisException>(() => tts.SynthesizeAsync("Hello", null, CancellationToken.None));
        Assert.That(ex!.Message, Does.Contain("API key was refused").And.Contains("ELEVENLABS_API_KEY"));
        Assert.That(ex.StatusCode, Is.EqualTo(401));
        Assert.That(_api.Requests, Has.Count.EqualTo(1), "not retried");
    }

    [Test]
    public async Task An_exhausted_quota_is_reported_as_such()
    {
        _api.Reply(401, """{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota. You have 3 credits remaining."}}""");
        using var tts = Synthesizer();
        var ex = await Assert.ThrowsAsync<SpeechSynthesisException>(() => tts.SynthesizeAsync("Hello", null, CancellationToken.None));
        Assert.That(ex!.Message, Does.Contain("quota is used up").And.Contains("3 credits remaining"));
    }

    [Test]
    public async Task Rate_limits_and_server_errors_are_retried_with_back_off()
    {
        _api.Reply(429, """{"detail":{"status":"too_many_concurrent_requests","message":"busy"}}""");
        _api.Reply(503);
        using var tts = Synthesizer();
        var audio = await tts.SynthesizeAsync("Hello", null, CancellationToken.None).Within();
        Assert.That(audio.Provider, Is.EqualTo("elevenlabs"));
        Assert.That(_api.Requests, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task A_stalled_service_times_out_on_every_attempt_and_the_error_says_so()
    {
        for (var i = 0; i < 3; i++)
        {
            _api.Stall(TimeSpan.FromSeconds(5));
        }
        using var tts = Synthesizer(TimeSpan.FromMilliseconds(200));
        var ex = await Assert.ThrowsAsync<SpeechSynthesisException>(() => tts.SynthesizeAsync("Hello", null, CancellationToken.None).Within());
        Assert.That(ex!.Message, Does.Contain("unavailable after 3 attempts").And.Contains("no answer within 0.2 s"));
    }

    [Test]
    public async Task When_the_cloud_fails_the_message_is_spoken_by_flite()
    {
        _api.Reply(500);
        _api.Reply(500);
        _api.Reply(500);
        using var cloud = Synthesizer();
        var tts = new FallbackSynthesizer(cloud, new FliteSynthesizer("slt"));
        var audio = await tts.SynthesizeAsync("Disk full on nas-01", "someCloudVoice", CancellationToken.None).Within();
        Assert.That((audio.Provider, audio.Text, audio.Voice), Is.EqualTo(("flite", "Disk full on nas-01", "slt")));
    }
}
