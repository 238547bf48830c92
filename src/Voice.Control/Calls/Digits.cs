namespace Voice.Control.Calls;

/// <summary>How a gather collects keys: how many, which key ends input early, and how long it waits.</summary>
/// <param name="MinDigits">The fewest digits that count as input.</param>
/// <param name="MaxDigits">Input ends at this many digits.</param>
/// <param name="FinishOnKey">The key that ends input early (not part of the digits); null for none.</param>
/// <param name="Timeout">How long to wait for the first key after the prompt.</param>
/// <param name="InterDigitTimeout">How long to wait for each key after the first.</param>
public sealed record DigitRules(int MinDigits, int MaxDigits, char? FinishOnKey, TimeSpan Timeout, TimeSpan InterDigitTimeout);

/// <summary>What a gather collected, and why it ended (<see cref="GatherReasons"/>).</summary>
/// <param name="Digits">The keys pressed, the finishing key excluded; empty when none came.</param>
/// <param name="Reason"><see cref="GatherReasons.DtmfDetected"/> or <see cref="GatherReasons.Timeout"/> (media never reports a hang-up: the call does).</param>
public sealed record GatheredDigits(string Digits, string Reason);

/// <summary>Why a gather ended, in jambonz's words.</summary>
public static class GatherReasons
{
    /// <summary>Enough keys came (or the finishing key).</summary>
    public const string DtmfDetected = "dtmfDetected";

    /// <summary>Not enough keys came in time.</summary>
    public const string Timeout = "timeout";

    /// <summary>The callee hung up while the gather waited.</summary>
    public const string Hangup = "hangup";
}
