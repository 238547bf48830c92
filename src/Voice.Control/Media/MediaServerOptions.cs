using Voice.Control.FreeSwitch;

namespace Voice.Control.Media;

/// <summary>One FreeSWITCH media server: its Event Socket, the SIP profile endpoints are created on, and the media offered to phones.</summary>
public sealed record MediaServerOptions
{
    /// <summary>A name for logs, health and metrics; defaults to the Event Socket host.</summary>
    public string? Name { get; init; }

    /// <summary>The inbound Event Socket (port 8021).</summary>
    public EslClientOptions EventSocket { get; init; } = new();

    /// <summary>
    /// Where endpoint INVITEs go: the MRF profile's SIP address as drachtio-server reaches it
    /// (<c>fs-config/sip_profiles/mrf.xml</c> listens on 5090). The user part is what the dialplan matches.
    /// </summary>
    public string SipUri { get; init; } = "sip:drachtio@127.0.0.1:5090";

    /// <summary>The sofia profile that must show RUNNING in <c>sofia status</c> before endpoints are created.</summary>
    public string Profile { get; init; } = "mrf";

    /// <summary>Codecs offered to phones, in FreeSWITCH's order; 8 kHz telephone-event is always kept for key presses.</summary>
    public IReadOnlyList<string> Codecs { get; init; } = ["PCMU", "PCMA"];

    /// <summary>
    /// SRTP with the phone: calls go out without SDP, the phone or PBX offers (RTP/SAVP when it is set up for SRTP) and
    /// FreeSWITCH answers that offer once, so its key stays the one it announced. (Re-INVITEd with a phone's key,
    /// FreeSWITCH 1.11.1 changes the key it sends with without saying so: the phone hears noise.) The callee hears
    /// the message some 30 ms later than with plain RTP, as the endpoint is made after the answer. Off: calls offer
    /// plain RTP/AVP.
    /// </summary>
    public bool Srtp { get; init; }

    /// <summary>
    /// The channel events each endpoint subscribes to: what it needs (<see cref="Endpoint.Events"/>) and, for an
    /// application that watches <see cref="Endpoint.ChannelEvent"/>, more (PLAYBACK_START, RECORD_STOP…).
    /// </summary>
    public IReadOnlyList<string> ChannelEvents { get; init; } = Endpoint.Events;

    /// <summary>Longest wait for FreeSWITCH to answer an endpoint INVITE and connect back on the outbound Event Socket.</summary>
    public TimeSpan EndpointTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a destroyed endpoint waits for FreeSWITCH to close the channel's socket before closing it itself.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public string DisplayName => Name ?? EventSocket.Host;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        EventSocket.Validate();
        if (!Voice.Control.Sip.SipUri.TryParse(SipUri, out _) || SipUri.AsSpan().ContainsAny("\r\n |"))
        {
            throw new ArgumentException($"SipUri '{SipUri}' is not a sip: URI.", nameof(SipUri));
        }
        EslCommands.RequireToken(Profile, nameof(Profile));
        foreach (var required in Endpoint.Events.Where(e => !ChannelEvents.Contains(e)))
        {
            throw new ArgumentException($"ChannelEvents must include {required}: endpoints need it.", nameof(ChannelEvents));
        }
        foreach (var name in ChannelEvents)
        {
            EslCommands.RequireToken(name, nameof(ChannelEvents));
        }
        if (Codecs.Count == 0 || Codecs.Any(c => string.IsNullOrWhiteSpace(c) || c.AsSpan().ContainsAny(" /\r\n")))
        {
            throw new ArgumentException("Codecs must name at least one codec (PCMU, PCMA, G722…), each one word.", nameof(Codecs));
        }
        if (EndpointTimeout <= TimeSpan.Zero || CloseTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("EndpointTimeout and CloseTimeout must be positive.");
        }
    }
}
