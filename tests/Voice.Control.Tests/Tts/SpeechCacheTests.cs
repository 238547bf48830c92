using Voice.Control.Tests.Support;
using Voice.Control.Tts;

namespace Voice.Control.Tests.Tts;

public class SpeechCacheTests
{
    private string _directory = null!;

    [SetUp]
    public void Create() => _directory = Path.Combine(Path.GetTempPath(), "vb-cache-" + Guid.NewGuid().ToString("N"));

    [TearDown]
    public void Remove()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Test]
    public void The_key_covers_provider_voice_model_format_and_text()
    {
        var key = SpeechCache.Key("elevenlabs", "v", "m", "pcm_16000", "hello");
        Assert.That(key, Does.Match("^[0-9a-f]{64}$"));
        Assert.That(SpeechCache.Key("elevenlabs", "v", "m", "pcm_16000", "hello"), Is.EqualTo(key));
        Assert.That(new[]
        {
            SpeechCache.Key("flite", "v", "m", "pcm_16000", "hello"),
            SpeechCache.Key("elevenlabs", "w", "m", "pcm_16000", "hello"),
            SpeechCache.Key("elevenlabs", "v", "n", "pcm_16000", "hello"),
            SpeechCache.Key("elevenlabs", "v", "m", "pcm_8000", "hello"),
            SpeechCache.Key("elevenlabs", "v", "m", "pcm_16000", "hello!"),
            SpeechCache.Key("elevenlabs", "vm", "", "pcm_16000", "hello"),
        }, Has.None.EqualTo(key));
    }

    [Test]
    public async Task Old_files_expire_and_the_least_recently_used_go_when_the_cache_is_full()
    {
        var time = new ManualTimeProvider();
        var cache = new SpeechCache(new SpeechCacheOptions { Directory = _directory, MaxBytes = 3 * (44 + 1000), MaxAge = TimeSpan.FromDays(1) }, time);
        var pcm = new byte[1000];
        await cache.StoreWavAsync("a", pcm, 8000, CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        await cache.StoreWavAsync("b", pcm, 8000, CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        await cache.StoreWavAsync("c", pcm, 8000, CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(cache.TryGet("a"), Is.Not.Null, "using a marks it recently used");
        time.Advance(TimeSpan.FromMinutes(1));
        await cache.StoreWavAsync("d", pcm, 8000, CancellationToken.None);

        Assert.That(cache.TryGet("b"), Is.Null, "the least recently used file made room");
        Assert.That(new[] { "a", "c", "d" }.Select(cache.TryGet), Has.All.Not.Null);

        time.Advance(TimeSpan.FromDays(2));
        Assert.That(cache.TryGet("d"), Is.Null, "too old");
    }

    [Test]
    public async Task A_file_deleted_behind_the_caches_back_is_rendered_again_not_handed_to_FreeSWITCH()
    {
        var cache = new SpeechCache(new SpeechCacheOptions { Directory = _directory });
        var renders = 0;
        Task<(ReadOnlyMemory<byte>, int)> Render()
        {
            renders++;
            return Task.FromResult<(ReadOnlyMemory<byte>, int)>((WavTests.QuietThenSpeech(8000, quietMs: 0, speechMs: 500), 8000));
        }

        var first = await cache.GetOrRenderAsync("k", Render, CancellationToken.None);
        var hit = await cache.GetOrRenderAsync("k", Render, CancellationToken.None);
        Assert.That((renders, hit.FromCache, hit.Duration), Is.EqualTo((1, true, first.Duration)), "the second ask is a hit of the same length");

        File.Delete(first.Path);
        var again = await cache.GetOrRenderAsync("k", Render, CancellationToken.None);

        Assert.That((renders, again.FromCache, File.Exists(again.Path)), Is.EqualTo((2, false, true)));
    }

    [Test]
    public async Task A_file_in_steady_use_has_its_use_marked_once_a_minute_not_on_every_call()
    {
        var time = new ManualTimeProvider();
        var cache = new SpeechCache(new SpeechCacheOptions { Directory = _directory }, time);
        var path = await cache.StoreWavAsync("k", new byte[1000], 8000, CancellationToken.None);
        var stored = File.GetLastWriteTimeUtc(path);

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.That(cache.TryGet("k"), Is.EqualTo(path));
        Assert.That(File.GetLastWriteTimeUtc(path), Is.EqualTo(stored), "used again within the minute: the disk is not written");

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.That(cache.TryGet("k"), Is.EqualTo(path));
        Assert.That(File.GetLastWriteTimeUtc(path), Is.EqualTo(time.GetUtcNow().UtcDateTime), "a minute on: marked used for the trim");
    }

    [Test]
    public void With_an_HTTP_base_FreeSWITCH_is_given_a_URL()
    {
        var cache = new SpeechCache(new SpeechCacheOptions { Directory = _directory, HttpBase = new Uri("http://voicebridge:3000/tts/") });
        Assert.That(cache.PlaybackSource(Path.Combine(_directory, "abc.wav")), Is.EqualTo("http://voicebridge:3000/tts/abc.wav"));
        var local = new SpeechCache(new SpeechCacheOptions { Directory = _directory });
        Assert.That(local.PlaybackSource(Path.Combine(_directory, "abc.wav")), Is.EqualTo(Path.Combine(_directory, "abc.wav")));
    }

    [Test]
    public async Task A_stored_message_starts_with_its_speech_not_the_voices_quiet_opening()
    {
        var cache = new SpeechCache(new SpeechCacheOptions { Directory = _directory });
        var pcm = WavTests.QuietThenSpeech(16000, quietMs: 300, speechMs: 700);

        var path = await cache.StoreWavAsync("speech", pcm, 16000, CancellationToken.None);

        var (samples, rate) = Wav.Read(await File.ReadAllBytesAsync(path));
        Assert.That(rate, Is.EqualTo(16000));
        Assert.That(samples.Length, Is.EqualTo(2 * 16000 * 720 / 1000), "the 300 ms opening cut to a 20 ms pre-roll");
    }
}
