namespace Voice.Control.Sip;

/// <summary>A SIP request ended with a final non-2xx response (or one the stack generated, such as 503 or 408).</summary>
public sealed class SipFailureException : Exception
{
    public SipFailureException(int statusCode, string reasonPhrase, SipMessage? response = null, bool ringTimeout = false)
        : base(ringTimeout ? $"no answer within the ring timeout ({statusCode} {reasonPhrase})" : $"{statusCode} {reasonPhrase}")
    {
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        Response = response;
        IsRingTimeout = ringTimeout;
    }

    public int StatusCode { get; }

    public string ReasonPhrase { get; }

    /// <summary>The final response, when one arrived.</summary>
    public SipMessage? Response { get; }

    /// <summary>The client cancelled the INVITE because the ring timeout expired.</summary>
    public bool IsRingTimeout { get; }
}
