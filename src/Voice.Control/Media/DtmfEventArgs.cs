namespace Voice.Control.Media;

/// <summary>A key the far end pressed, as FreeSWITCH's DTMF event reports it.</summary>
public sealed class DtmfEventArgs(char digit, TimeSpan duration, string? source) : EventArgs
{
    public char Digit { get; } = digit;

    public TimeSpan Duration { get; } = duration;

    /// <summary>How the digit arrived: <c>RTP</c> (RFC 2833/4733), <c>INBAND_AUDIO</c>, <c>SIP_INFO</c>…</summary>
    public string? Source { get; } = source;
}
