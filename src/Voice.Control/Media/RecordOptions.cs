namespace Voice.Control.Media;

/// <summary>Limits for <see cref="Endpoint.RecordAsync"/> (FreeSWITCH's <c>record</c>).</summary>
public sealed record RecordOptions
{
    public static RecordOptions Default { get; } = new();

    /// <summary>Longest recording.</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Energy level below which audio counts as silence (FreeSWITCH's default scale, 200 is typical).</summary>
    public int SilenceThreshold { get; init; } = 200;

    /// <summary>Stop after this long of continuous silence; null records until the time limit or a hangup.</summary>
    public TimeSpan? SilenceTimeout { get; init; } = TimeSpan.FromSeconds(3);
}
