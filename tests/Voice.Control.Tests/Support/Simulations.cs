using Voice.Control.Simulation;

namespace Voice.Control.Tests.Support;

/// <summary>The simulated backend at test pace: short rings, prompt signalling, speech played 50 times as fast.</summary>
public static class Simulations
{
    public static SimulationOptions Fast { get; } = new()
    {
        RingTime = TimeSpan.FromMilliseconds(20),
        SignallingDelay = TimeSpan.FromMilliseconds(2),
        HangupAfter = TimeSpan.FromMilliseconds(60),
        PlaybackSpeed = 50,
    };
}
