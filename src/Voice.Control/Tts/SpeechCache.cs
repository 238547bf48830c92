using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Voice.Control.Diagnostics;

namespace Voice.Control.Tts;

/// <summary>
/// Rendered messages on disk, content-addressed: the file name is a hash of provider, voice, model, format and
/// text, so the same message in the same voice is rendered once. Files are written to a temporary name and
/// moved into place, so FreeSWITCH never plays a half-written file. Leading silence is cut before a file is
/// stored, so playback starts with speech. Size and age are capped; the least recently used files go first.
/// A file this cache has stored or found is remembered with its length in time, so a hit costs one look at the
/// disk (is it still there?) instead of opening the file; its write time, which marks it used, is moved forward
/// at most once per <see cref="TouchInterval"/>.
/// </summary>
public sealed class SpeechCache
{
    private readonly SpeechCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _trimLock = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _rendering = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Known> _known = new(StringComparer.Ordinal);

    /// <summary>How stale a used file's write time may get: the least-recently-used order is kept to this precision.</summary>
    public static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);

    private readonly VoiceMeter _meter;

    public SpeechCache(SpeechCacheOptions options, TimeProvider? timeProvider = null, VoiceMeter? meter = null)
    {
        _meter = meter ?? new VoiceMeter();
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        Directory.CreateDirectory(options.Directory);
    }

    /// <summary>The cache key: SHA-256 over the fields that change the audio, separated so no two inputs collide.</summary>
    public static string Key(string provider, string voice, string model, string format, string text)
    {
        var joined = string.Join('\0', provider, voice, model, format, text);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(joined)));
    }

    /// <summary>The cached file for <paramref name="key"/>, marked as used now; null when absent or too old.</summary>
    public string? TryGet(string key) => Lookup(key)?.Path;

    private CachedSpeech? Lookup(string key)
    {
        var path = PathOf(key);
        var now = _time.GetUtcNow().UtcDateTime;
        // Past the age limit by this cache's own marks: the disk decides (another host sharing the directory may have used it).
        if (_known.TryGetValue(key, out var known) && now - known.Touched <= _options.MaxAge)
        {
            if (!File.Exists(path))
            {
                // Deleted behind the cache's back (by hand, or by another host's trim).
                _known.TryRemove(key, out _);
                return Miss();
            }
            if (now - known.Touched >= TouchInterval)
            {
                Touch(path, now);
                _known[key] = known with { Touched = now };
            }
            _meter.SpeechCacheLookups.Add(1, new KeyValuePair<string, object?>("result", "hit"));
            return new CachedSpeech(path, known.Duration, FromCache: true);
        }
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            _known.TryRemove(key, out _);
            return Miss();
        }
        if (now - info.LastWriteTimeUtc > _options.MaxAge)
        {
            _known.TryRemove(key, out _);
            TryDelete(path);
            return Miss();
        }
        _meter.SpeechCacheLookups.Add(1, new KeyValuePair<string, object?>("result", "hit"));
        // The write time doubles as "last used", for the least-recently-used trim (access times are often off).
        Touch(path, now);
        var speech = CachedSpeech.Of(path, fromCache: true);
        _known[key] = new Known(speech.Duration, now);
        return speech;
    }

    private CachedSpeech? Miss()
    {
        _meter.SpeechCacheLookups.Add(1, new KeyValuePair<string, object?>("result", "miss"));
        return null;
    }

    private static void Touch(string path, DateTime now)
    {
        try
        {
            File.SetLastWriteTimeUtc(path, now);
        }
        catch (IOException)
        {
            // Gone since the look a moment ago: playing it fails and is reported; the next lookup misses.
        }
    }

    /// <summary>
    /// The file for <paramref name="key"/>: from the cache, or rendered by <paramref name="render"/> and stored —
    /// once, however many callers ask for the same message at the same time. A caller that gives up stops
    /// waiting, not the rendering, so the next caller finds the file.
    /// </summary>
    internal async Task<CachedSpeech> GetOrRenderAsync(string key, Func<Task<(ReadOnlyMemory<byte> Pcm, int SampleRate)>> render, CancellationToken ct)
    {
        if (Lookup(key) is { } cached)
        {
            return cached;
        }
        var rendering = _rendering.GetOrAdd(key, k => new Lazy<Task<string>>(() => RenderAsync(k, render)));
        return CachedSpeech.Of(await rendering.Value.WaitAsync(ct).ConfigureAwait(false), fromCache: false);
    }

    private async Task<string> RenderAsync(string key, Func<Task<(ReadOnlyMemory<byte> Pcm, int SampleRate)>> render)
    {
        try
        {
            var (pcm, sampleRate) = await render().ConfigureAwait(false);
            return await StoreWavAsync(key, pcm, sampleRate, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            // Done either way: later callers find the file, or try again after a failure.
            _rendering.TryRemove(key, out _);
        }
    }

    /// <summary>Stores 16-bit mono PCM as a WAV file without its leading silence, atomically, and returns its path.</summary>
    public async Task<string> StoreWavAsync(string key, ReadOnlyMemory<byte> pcm, int sampleRate, CancellationToken ct)
    {
        var path = PathOf(key);
        var temporary = Path.Combine(_options.Directory, $".{key}.{Guid.NewGuid():N}.tmp");
        var speech = Wav.TrimLeadingSilence(pcm, sampleRate);
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                await file.WriteAsync(Wav.Header(speech.Length, sampleRate), ct).ConfigureAwait(false);
                await file.WriteAsync(speech, ct).ConfigureAwait(false);
            }
            var now = _time.GetUtcNow().UtcDateTime;
            File.SetLastWriteTimeUtc(temporary, now);
            File.Move(temporary, path, overwrite: true);
            _known[key] = new Known(Wav.Duration(Wav.HeaderLength + speech.Length, sampleRate), now);
        }
        finally
        {
            TryDelete(temporary);
        }
        Trim();
        return path;
    }

    /// <summary>What FreeSWITCH is told to play for a cached file: its URL under the HTTP base, or its path.</summary>
    public string PlaybackSource(string path) =>
        _options.HttpBase is { } http ? new Uri(http, Path.GetFileName(path)).ToString() : path;

    /// <summary>Deletes files past the age limit, then the least recently used until the total fits the size cap.</summary>
    public void Trim()
    {
        lock (_trimLock)
        {
            var now = _time.GetUtcNow().UtcDateTime;
            var files = new DirectoryInfo(_options.Directory).GetFiles("*.wav").OrderBy(f => f.LastWriteTimeUtc).ToList();
            var total = files.Sum(f => f.Length);
            foreach (var file in files)
            {
                if (now - file.LastWriteTimeUtc > _options.MaxAge || total > _options.MaxBytes)
                {
                    total -= file.Length;
                    _known.TryRemove(Path.GetFileNameWithoutExtension(file.Name), out _);
                    TryDelete(file.FullName);
                }
            }
        }
    }

    private string PathOf(string key) => Path.Combine(_options.Directory, key + ".wav");

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // In use (FreeSWITCH playing it) or already gone: the next trim tries again.
        }
    }

    /// <summary>A file this cache stored or found: how long it plays, and when the cache last marked it used.</summary>
    private sealed record Known(TimeSpan Duration, DateTime Touched);
}
