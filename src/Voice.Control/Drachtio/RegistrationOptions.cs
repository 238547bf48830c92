using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>Registering as an extension of a PBX (a 3CX extension, for example).</summary>
public sealed record RegistrationOptions
{
    /// <summary>The registrar's URI, the Request-URI of REGISTER: <c>sip:pbx.example.com</c>.</summary>
    public required string Registrar { get; init; }

    /// <summary>The extension or user name: the user part of the address of record.</summary>
    public required string User { get; init; }

    /// <summary>The domain of the address of record; defaults to the registrar's host.</summary>
    public string? Domain { get; init; }

    public SipCredentials? Credentials { get; init; }

    /// <summary>Outbound proxy for REGISTER (the 4th field of drachtio's <c>sip</c> message).</summary>
    public string? Proxy { get; init; }

    /// <summary>Requested registration lifetime; the PBX may grant less, and the client refreshes before it ends.</summary>
    public TimeSpan Expires { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>
    /// The Contact to register; defaults to <c>sip:&lt;user&gt;@&lt;drachtio-server's SIP address&gt;</c>.
    /// Set it when drachtio-server is behind NAT and the PBX must reach its external address.
    /// </summary>
    public string? Contact { get; init; }

    /// <summary>First delay after a failed registration; doubles per failure up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryMinDelay { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    public string AddressOfRecord => $"sip:{User}@{Domain ?? SipUri.Parse(Registrar).Host}";

    internal void Validate()
    {
        if (!SipUri.TryParse(Registrar, out _) || Registrar.AsSpan().IndexOfAny(" |\r\n") >= 0)
        {
            throw new ArgumentException($"Registrar '{Registrar}' is not a sip: or sips: URI.", nameof(Registrar));
        }
        if (string.IsNullOrEmpty(User) || User.AsSpan().IndexOfAny("@<>\"; :\r\n\0") >= 0)
        {
            throw new ArgumentException($"User '{User}' is not a valid SIP user part.", nameof(User));
        }
        if (Domain is not null && (Domain.Length == 0 || Domain.AsSpan().IndexOfAny("@<>\"; \r\n\0") >= 0))
        {
            throw new ArgumentException($"Domain '{Domain}' is not a valid host.", nameof(Domain));
        }
        if (Proxy is not null && (!SipUri.TryParse(Proxy, out _) || Proxy.AsSpan().IndexOfAny(" |\r\n") >= 0))
        {
            throw new ArgumentException($"Proxy '{Proxy}' is not a sip: or sips: URI.", nameof(Proxy));
        }
        if (Contact is not null && (!SipUri.TryParse(Contact, out _) || Contact.AsSpan().IndexOfAny(" <>\r\n") >= 0))
        {
            throw new ArgumentException($"Contact '{Contact}' is not a sip: or sips: URI.", nameof(Contact));
        }
        if (Expires < TimeSpan.FromSeconds(10) || Expires > TimeSpan.FromDays(1))
        {
            throw new ArgumentException("Expires must be between 10 seconds and one day.", nameof(Expires));
        }
        if (RetryMinDelay <= TimeSpan.Zero || RetryMaxDelay < RetryMinDelay)
        {
            throw new ArgumentException("RetryMinDelay must be positive and not longer than RetryMaxDelay.", nameof(RetryMinDelay));
        }
    }
}
