namespace Voice.Control.Tts;

/// <summary>Where rendered messages are kept, and for how long.</summary>
public sealed record SpeechCacheOptions
{
    /// <summary>A directory FreeSWITCH can read (a shared volume when it runs elsewhere and no HTTP base is set).</summary>
    public required string Directory { get; init; }

    /// <summary>
    /// When FreeSWITCH reaches the files over HTTP instead (<c>http://voicebridge:3000/tts/</c>, served by the
    /// host): the base URL file names are appended to. Null: FreeSWITCH plays the local path.
    /// </summary>
    public Uri? HttpBase { get; init; }

    /// <summary>Total size kept; the least recently used files go first beyond it.</summary>
    public long MaxBytes { get; init; } = 512L * 1024 * 1024;

    /// <summary>Files not used for this long are deleted.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(30);
}
