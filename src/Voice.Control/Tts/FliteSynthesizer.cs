using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Net;

namespace Voice.Control.Tts;

/// <summary>
/// flite, the keyless voice FreeSWITCH also ships. With a <see cref="SpeechCache"/>, each distinct message is rendered
/// here by the <c>flite</c> program (Debian's <c>flite</c> package) while the phone rings, once, and played from a
/// file FreeSWITCH reads locally or over HTTP: the callee hears speech at answer. Without one, or without the
/// program, the text goes to FreeSWITCH's <c>speak</c>, which synthesizes it only once the call is answered —
/// the callee then waits about 300 ms for the first word.
/// </summary>
public sealed class FliteSynthesizer : ISpeechSynthesizer
{
    public const string ProviderName = "flite";

    private static readonly HashSet<string> Voices = new(StringComparer.Ordinal) { "kal", "kal16", "slt", "rms", "awb" };

    private readonly string _defaultVoice;
    private readonly SpeechCache? _cache;
    private readonly string? _program;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;

    /// <summary>Hands the text to FreeSWITCH's <c>speak</c> (nothing is rendered here).</summary>
    public FliteSynthesizer(string defaultVoice = "kal")
    {
        RequireVoice(defaultVoice, nameof(defaultVoice));
        _defaultVoice = defaultVoice;
        _logger = NullLogger.Instance;
        _timeout = TimeSpan.FromSeconds(30);
    }

    /// <summary>
    /// Renders each message with <paramref name="program"/> (a name on the PATH or a path) into <paramref name="cache"/>.
    /// When the program cannot be found, says so once and hands messages to FreeSWITCH's <c>speak</c>.
    /// </summary>
    public FliteSynthesizer(SpeechCache cache, string program = "flite", string defaultVoice = "kal", ILogger<FliteSynthesizer>? logger = null, TimeSpan? timeout = null)
        : this(defaultVoice)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentException.ThrowIfNullOrWhiteSpace(program);
        _logger = logger ?? NullLogger<FliteSynthesizer>.Instance;
        _timeout = timeout ?? _timeout;
        _program = Locate(program);
        if (_program is null)
        {
            _logger.LogWarning(
                "The flite program '{Program}' was not found: FreeSWITCH will synthesize each message when the call is answered, so callees " +
                "hear the first word about 300 ms late. Install it (Debian: apt install flite) to render messages while the phone rings.", program);
            return;
        }
        _cache = cache;
    }

    /// <summary>Whether messages are rendered here (true) or by FreeSWITCH at answer (false).</summary>
    public bool RendersFiles => _cache is not null;

    public async Task<SpeechAudio> SynthesizeAsync(string text, string? voice, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        voice ??= _defaultVoice;
        RequireVoice(voice, nameof(voice));
        if (_cache is null)
        {
            return SpeechAudio.Flite(text, voice);
        }
        var key = SpeechCache.Key(ProviderName, voice, string.Empty, "wav", text);
        var speech = await _cache.GetOrRenderAsync(key, () => RenderAsync(text, voice), ct).ConfigureAwait(false);
        return new SpeechAudio
        {
            Provider = ProviderName,
            Source = _cache.PlaybackSource(speech.Path),
            Duration = speech.Duration,
            FromCache = speech.FromCache,
        };
    }

    /// <summary>
    /// Runs <c>flite -voice V -f text.txt -o speech.wav</c>: the text goes through a file, never a command line a
    /// shell could read, and no message can be taken for an option.
    /// </summary>
    private async Task<(ReadOnlyMemory<byte> Pcm, int SampleRate)> RenderAsync(string text, string voice)
    {
        var stem = Path.Combine(Path.GetTempPath(), "voicebridge-flite-" + Guid.NewGuid().ToString("N"));
        var (textFile, wavFile) = (stem + ".txt", stem + ".wav");
        try
        {
            await File.WriteAllTextAsync(textFile, text).ConfigureAwait(false);
            var start = new ProcessStartInfo(_program!)
            {
                ArgumentList = { "-voice", voice, "-f", textFile, "-o", wavFile },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(start) ?? throw new SpeechSynthesisException(ProviderName, $"{_program} did not start");
            var errors = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(_timeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new SpeechSynthesisException(ProviderName, $"{_program} did not finish within {_timeout.TotalSeconds:0} s");
            }
            var message = (await errors.ConfigureAwait(false)) + (await output.ConfigureAwait(false));
            if (process.ExitCode != 0 || !File.Exists(wavFile))
            {
                throw new SpeechSynthesisException(ProviderName, $"{_program} failed (exit code {process.ExitCode}): {WireText.Preview(message, 200)}");
            }
            try
            {
                return Wav.Read(await File.ReadAllBytesAsync(wavFile).ConfigureAwait(false));
            }
            catch (FormatException ex)
            {
                throw new SpeechSynthesisException(ProviderName, $"{_program} wrote audio VoiceBridge cannot read: {ex.Message}", inner: ex);
            }
        }
        finally
        {
            File.Delete(textFile);
            File.Delete(wavFile);
        }
    }

    /// <summary>A path as given, or the first match on the PATH; null when there is none.</summary>
    private static string? Locate(string program)
    {
        if (program.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return File.Exists(program) ? program : null;
        }
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    public string? VoiceProblem(string voice) => Voices.Contains(voice) ? null : $"flite has no voice '{voice}'; it has {string.Join(", ", Voices)}";

    private void RequireVoice(string voice, string name)
    {
        if (VoiceProblem(voice) is { } problem)
        {
            throw new ArgumentException(problem, name);
        }
    }
}
