using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>How to place one outgoing INVITE.</summary>
public sealed record UacOptions
{
    public static UacOptions Default { get; } = new();

    /// <summary>Our SDP offer (early offer). Null sends an INVITE without SDP and expects the offer in the 2xx.</summary>
    public string? LocalSdp { get; init; }

    /// <summary>
    /// For an INVITE without SDP: builds the answer sent in the ACK from the offer in the 2xx. It may take a while
    /// (creating the media that answers): the far end repeats its 2xx until the ACK comes (RFC 3261 §13.3.1.4). When it
    /// fails, the 2xx is acknowledged without an answer and the call hung up with BYE before the error is thrown.
    /// </summary>
    public Func<string, CancellationToken, Task<string>>? AnswerOffer { get; init; }

    /// <summary>
    /// Extra headers for the INVITE (User-Agent, X-…). Names must be SIP tokens, values free of CR/LF; headers the
    /// client manages (Via, Call-ID, CSeq, From, Content-*, Max-Forwards, authorization) are refused.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>The user part of the From URI (the caller ID). Without it drachtio-server writes its own From.</summary>
    public string? CallerId { get; init; }

    /// <summary>The display name in From, shown on phones that display caller names.</summary>
    public string? CallerName { get; init; }

    /// <summary>The host of the From URI; defaults to the host of the Request-URI (the trunk's SIP domain).</summary>
    public string? FromHost { get; init; }

    /// <summary>
    /// Outbound proxy URI (<c>sip:10.0.0.5:5060;transport=tcp</c>): where drachtio-server sends the INVITE.
    /// The Request-URI stays as given and no Route header is added.
    /// </summary>
    public string? Proxy { get; init; }

    /// <summary>Answers 401/407 challenges with Digest authentication, once per challenge.</summary>
    public SipCredentials? Credentials { get; init; }

    /// <summary>Sends CANCEL when no final response came within this time; the call then fails with 487.</summary>
    public TimeSpan? RingTimeout { get; init; }

    /// <summary>
    /// Called with every provisional response (180, 183 with or without SDP) in order, on the caller's flow,
    /// never on the connection's read loop.
    /// </summary>
    public Action<SipMessage>? OnProvisional { get; init; }

    internal void Validate(string uri)
    {
        if (!SipUri.TryParse(uri, out _))
        {
            throw new ArgumentException($"'{uri}' is not a sip: or sips: URI.", nameof(uri));
        }
        SipHeaderNames.ValidateValue("Request-URI", uri);
        if (uri.Contains(' '))
        {
            throw new ArgumentException($"Request-URI '{uri}' contains a space.", nameof(uri));
        }
        if (Headers is not null)
        {
            foreach (var (name, value) in Headers)
            {
                SipHeaderNames.ValidateCustomHeader(name, value);
            }
        }
        if (CallerId is not null && (CallerId.Length == 0 || CallerId.AsSpan().IndexOfAny("@<>\"; \r\n\0:") >= 0))
        {
            throw new ArgumentException($"Caller ID '{CallerId}' is not a valid SIP user part.", nameof(CallerId));
        }
        SipHeaderNames.ValidateValue(nameof(CallerName), CallerName);
        if (FromHost is not null && (FromHost.Length == 0 || FromHost.AsSpan().IndexOfAny("@<>\"; \r\n\0") >= 0))
        {
            throw new ArgumentException($"From host '{FromHost}' is not a valid host.", nameof(FromHost));
        }
        if (Proxy is not null && (!SipUri.TryParse(Proxy, out _) || Proxy.Contains('|')))
        {
            throw new ArgumentException($"Proxy '{Proxy}' is not a sip: or sips: URI.", nameof(Proxy));
        }
        SipHeaderNames.ValidateValue(nameof(Proxy), Proxy);
        if (RingTimeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("RingTimeout must be positive.", nameof(RingTimeout));
        }
        if (LocalSdp is not null && LocalSdp.Contains('\0'))
        {
            throw new ArgumentException("LocalSdp contains a NUL character.", nameof(LocalSdp));
        }
    }
}
