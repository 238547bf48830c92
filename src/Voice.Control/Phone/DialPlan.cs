using System.Text;

namespace Voice.Control.Phone;

/// <summary>How numbers become SIP Request-URIs at this deployment's PBX or trunk.</summary>
public enum DialRule
{
    /// <summary>
    /// The original's 3CX rule: a number of the home country is dialled as the outside-line prefix (9) and its
    /// national number (with the national trunk prefix where the country uses one); other countries as the
    /// prefix, the international access code and the full number. Extensions as written.
    /// </summary>
    ThreeCx,

    /// <summary><c>sip:+&lt;E.164&gt;@host</c>, for trunks that take international numbers as they are. Extensions as written.</summary>
    E164,
}

/// <summary>A deployment's dial rule: where calls go and how numbers are written in the Request-URI.</summary>
public sealed record DialPlan
{
    public DialRule Rule { get; init; } = DialRule.ThreeCx;

    /// <summary>The host (and optional port) of the Request-URI: the SIP domain or trunk address (<c>SIP_DOMAIN</c> / <c>SIP_TRUNK_HOST</c>).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary><c>udp</c>, <c>tcp</c> or <c>tls</c>; null leaves the transport to drachtio-server (UDP unless the URI says otherwise).</summary>
    public string? Transport { get; init; }

    /// <summary>The country whose numbers are national calls at the PBX (3CX rule).</summary>
    public string HomeCountryCode { get; init; } = "1";

    /// <summary>The digit(s) that get an outside line on the PBX (3CX rule).</summary>
    public string OutsideLinePrefix { get; init; } = "9";

    /// <summary>Put before a national number at home: empty for North America, <c>0</c> for most of Europe (3CX rule).</summary>
    public string NationalPrefix { get; init; } = "";

    /// <summary>Dialled before the country code of a foreign number: <c>011</c> in North America, <c>00</c> elsewhere (3CX rule).</summary>
    public string InternationalPrefix { get; init; } = "011";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host) || Host.AsSpan().IndexOfAny("@<>;\"' \r\n\0|") >= 0)
        {
            throw new ArgumentException($"Host '{Host}' is not a host name or address.", nameof(Host));
        }
        if (Transport is not (null or "udp" or "tcp" or "tls"))
        {
            throw new ArgumentException($"Transport '{Transport}' must be udp, tcp or tls.", nameof(Transport));
        }
        foreach (var (name, value) in new[] { (nameof(OutsideLinePrefix), OutsideLinePrefix), (nameof(NationalPrefix), NationalPrefix), (nameof(InternationalPrefix), InternationalPrefix), (nameof(HomeCountryCode), HomeCountryCode) })
        {
            if (!value.All(char.IsAsciiDigit))
            {
                throw new ArgumentException($"{name} '{value}' must be digits.", name);
            }
        }
        if (!CountryCallingCodes.IsAssigned(HomeCountryCode))
        {
            throw new ArgumentException($"HomeCountryCode '{HomeCountryCode}' is not a country calling code.", nameof(HomeCountryCode));
        }
    }

    /// <summary>The Request-URI for <paramref name="number"/>.</summary>
    public string ToSipUri(PhoneNumber number)
    {
        ArgumentNullException.ThrowIfNull(number);
        var user = number.IsExtension ? number.Value : Rule switch
        {
            DialRule.E164 => number.Value,
            _ when number.CountryCode == HomeCountryCode => OutsideLinePrefix + NationalPrefix + number.NationalNumber,
            _ => OutsideLinePrefix + InternationalPrefix + number.Value[1..],
        };
        var uri = new StringBuilder("sip:").Append(user).Append('@').Append(Host);
        if (Transport is not null)
        {
            uri.Append(";transport=").Append(Transport);
        }
        return uri.ToString();
    }
}
