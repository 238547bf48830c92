using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RestSharp;

namespace Voice.Control.Tts;

/// <summary>
/// ElevenLabs text-to-speech through RestSharp: raw PCM in the configured rate, wrapped in WAV and kept in the
/// <see cref="SpeechCache"/>. 429, 5xx, timeouts and connection errors are retried with exponential back-off;
/// a refused key and an exhausted quota fail at once with an error that says so. Concurrent requests for the
/// same message share one rendering (the cache's).
/// </summary>
public sealed partial class ElevenLabsSynthesizer : ISpeechSynthesizer, IDisposable
{
    public const string ProviderName = "elevenlabs";

    private readonly ElevenLabsOptions _options;
    private readonly SpeechCache _cache;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RestClient _client;

    public ElevenLabsSynthesizer(ElevenLabsOptions options, SpeechCache cache, ILogger<ElevenLabsSynthesizer>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(cache);
        options.Validate();
        _options = options;
        _cache = cache;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<ElevenLabsSynthesizer>.Instance;
        _client = new RestClient(new RestClientOptions(options.BaseUrl) { Timeout = options.Timeout, ThrowOnAnyError = false });
    }

    /// <summary>ElevenLabs names voices by id, letters and digits; whether the account has it shows only when it speaks.</summary>
    public string? VoiceProblem(string voice) =>
        voice.Length is > 0 and <= 64 && voice.All(char.IsAsciiLetterOrDigit) ? null : $"'{voice}' is not an ElevenLabs voice id (letters and digits, e.g. {_options.VoiceId})";

    public async Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        voice ??= _options.VoiceId;
        var key = SpeechCache.Key(ProviderName, voice, _options.ModelId, _options.OutputFormat, text);
        var speech = await _cache.GetOrRenderAsync(key, async () => (await RequestAsync(text, voice).ConfigureAwait(false), _options.SampleRate), ct)
            .ConfigureAwait(false);
        return new SpeechAudio
        {
            Provider = ProviderName,
            Source = _cache.PlaybackSource(speech.Path),
            Duration = speech.Duration,
            FromCache = speech.FromCache,
        };
    }

    private async Task<ReadOnlyMemory<byte>> RequestAsync(string text, string voice)
    {
        var body = JsonSerializer.Serialize(new TextToSpeechBody(text, _options.ModelId), ElevenLabsJson.Default.TextToSpeechBody);
        string? lastError = null;
        for (var attempt = 0; ; attempt++)
        {
            var request = new RestRequest("v1/text-to-speech/{voice}", Method.Post)
                .AddUrlSegment("voice", voice)
                .AddQueryParameter("output_format", _options.OutputFormat)
                .AddHeader("xi-api-key", _options.ApiKey)
                .AddHeader("Accept", "audio/*")
                .AddStringBody(body, ContentType.Json);
            var response = await _client.ExecuteAsync(request).ConfigureAwait(false);
            // RestSharp marks any non-2xx answer as an error too; a status of 0 means no HTTP answer at all.
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300 && response.RawBytes is { Length: > 0 } audio)
            {
                return audio;
            }
            var retryable = status == 0 || status is 429 or >= 500;
            lastError = status != 0 ? $"{status} {Detail(response.Content)}"
                : response.ResponseStatus == ResponseStatus.TimedOut ? $"no answer within {_options.Timeout.TotalSeconds:0.#} s"
                : "connection failed: " + (response.ErrorException?.Message ?? response.ErrorMessage);
            if (!retryable)
            {
                throw NotRetryable(status, response.Content, lastError);
            }
            if (attempt >= _options.MaxRetries)
            {
                throw new SpeechSynthesisException(ProviderName, $"unavailable after {attempt + 1} attempts; last: {lastError}", status == 0 ? null : status);
            }
            var delay = TimeSpan.FromTicks(Math.Min(_options.RetryDelay.Ticks << attempt, TimeSpan.FromSeconds(8).Ticks));
            _logger.LogWarning("ElevenLabs attempt {Attempt} failed ({Error}); retrying in {Delay}", attempt + 1, lastError, delay);
            await Task.Delay(delay, _time).ConfigureAwait(false);
        }
    }

    private static SpeechSynthesisException NotRetryable(int status, string? content, string error) => status switch
    {
        401 when content?.Contains("quota_exceeded", StringComparison.Ordinal) == true =>
            new(ProviderName, $"the account's character quota is used up ({Detail(content)})", status),
        401 or 403 => new(ProviderName, $"the API key was refused ({status}); check ELEVENLABS_API_KEY", status),
        404 => new(ProviderName, $"no such voice or model ({Detail(content)})", status),
        _ => new(ProviderName, $"the request was refused: {error}", status),
    };

    /// <summary>ElevenLabs errors carry <c>{"detail":{"status":…,"message":…}}</c> or <c>{"detail":"…"}</c>.</summary>
    private static string Detail(string? content)
    {
        if (string.IsNullOrWhiteSpace(content))
        {
            return "no details";
        }
        try
        {
            using var json = JsonDocument.Parse(content);
            if (json.RootElement.TryGetProperty("detail", out var detail))
            {
                return detail.ValueKind == JsonValueKind.Object && detail.TryGetProperty("message", out var message)
                    ? message.GetString() ?? content
                    : detail.ToString();
            }
        }
        catch (JsonException)
        {
        }
        return content.Length > 200 ? content[..200] : content;
    }

    public void Dispose() => _client.Dispose();

    internal sealed record TextToSpeechBody(
        [property: JsonPropertyName("text")] string Text,
        [property: JsonPropertyName("model_id")] string ModelId);

    [JsonSerializable(typeof(TextToSpeechBody))]
    internal sealed partial class ElevenLabsJson : JsonSerializerContext;
}
