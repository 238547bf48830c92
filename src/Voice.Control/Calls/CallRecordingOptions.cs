using System.Security.Cryptography;

namespace Voice.Control.Calls;

/// <summary>
/// Where call recordings go (the <c>record</c> verb, <see cref="CallRequest.Record"/>). FreeSWITCH writes each one: into
/// <see cref="Directory"/> when it runs on the same machine, into a shared volume it sees under another path, or to a
/// temporary file it uploads with an HTTP PUT when the recording ends (<see cref="FreeSwitchTarget"/>).
/// </summary>
public sealed record CallRecordingOptions
{
    /// <summary>A recording is WAV, 16-bit samples, at most 16 kHz, two channels: this many bytes a second at most.</summary>
    public const int MaxBytesPerSecond = 16_000 * 2 * 2;

    /// <summary>Where VoiceBridge finds finished recordings (the host serves them from here).</summary>
    public required string Directory { get; init; }

    /// <summary>
    /// Where FreeSWITCH writes them. Null: <see cref="Directory"/> itself (FreeSWITCH on this machine). A path: the same
    /// directory as FreeSWITCH sees it (a shared volume mounted elsewhere). An http(s) URL ending in <c>/</c>: FreeSWITCH
    /// records to a temporary file and PUTs it to this URL plus the file's name when the recording ends (mod_httapi;
    /// the host takes it at <c>/fs/recordings/</c>).
    /// </summary>
    public string? FreeSwitchTarget { get; init; }

    /// <summary>The longest recording: FreeSWITCH stops it there (the call goes on).</summary>
    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The largest file a recording of <see cref="MaxDuration"/> can make, with its header.</summary>
    public long MaxBytes => (long)Math.Ceiling(MaxDuration.TotalSeconds) * MaxBytesPerSecond + 4096;

    /// <summary>True when FreeSWITCH uploads recordings over HTTP.</summary>
    public bool Uploaded => FreeSwitchTarget is { } target
        && (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("Recording directory is required.", nameof(Directory));
        }
        if (FreeSwitchTarget is { } target)
        {
            var valid = Uploaded
                ? Uri.TryCreate(target, UriKind.Absolute, out var uri) && target.EndsWith('/') && string.IsNullOrEmpty(uri.Query)
                : target.StartsWith('/');
            if (!valid || target.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                throw new ArgumentException($"Recording target '{target}' must be an absolute directory path, or an http(s) URL ending in '/' without a query, with no spaces.", nameof(FreeSwitchTarget));
            }
        }
        if (MaxDuration < TimeSpan.FromSeconds(10) || MaxDuration > TimeSpan.FromHours(4))
        {
            throw new ArgumentException("Recording MaxDuration must be 10 s – 4 h.", nameof(MaxDuration));
        }
    }

    /// <summary>
    /// A new file for part <paramref name="part"/> of call <paramref name="callId"/>: <c>&lt;call&gt;-&lt;part&gt;-&lt;random&gt;.wav</c>.
    /// The random part makes an upload URL impossible to guess.
    /// </summary>
    public RecordingFile NewFile(string callId, int part)
    {
        var safeId = new string([.. callId.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_').Take(64)]);
        var name = $"{safeId}-{part}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))}.wav";
        var target = FreeSwitchTarget ?? Directory;
        var freeSwitchPath = Uploaded ? target + name : Path.Combine(target, name);
        return new RecordingFile(name, Path.Combine(Directory, name), freeSwitchPath);
    }

    /// <summary>True when <paramref name="name"/> has the shape <see cref="NewFile"/> gives (nothing that leaves the directory).</summary>
    public static bool IsFileName(string name) =>
        name.Length is > 30 and <= 128 && name.EndsWith(".wav", StringComparison.Ordinal)
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && !name.Contains("..", StringComparison.Ordinal);
}

/// <summary>One recording's file: its name, where VoiceBridge finds it, and what FreeSWITCH is told to write.</summary>
public sealed record RecordingFile(string Name, string LocalPath, string FreeSwitchPath);
