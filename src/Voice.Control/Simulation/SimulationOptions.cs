namespace Voice.Control.Simulation;

/// <summary>Timing of the simulated backend; real-life defaults, shortened in tests.</summary>
public sealed record SimulationOptions
{
    /// <summary>How long an ordinary number rings before it answers.</summary>
    public TimeSpan RingTime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the endpoint, the INVITE's 100/180 and each answer take.</summary>
    public TimeSpan SignallingDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long into the message the "hangs up during the message" number hangs up.</summary>
    public TimeSpan HangupAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a party a <c>dial</c> bridged to talks before it hangs up.</summary>
    public TimeSpan TalkTime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Playback runs this many times faster than the audio lasts (1 = real time).</summary>
    public double PlaybackSpeed { get; init; } = 1;
}
