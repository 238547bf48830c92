using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Voice.Control.Sip;

/// <summary>The parts of a sip: or sips: URI the client needs (RFC 3261 §19.1), without full grammar checks.</summary>
public sealed record SipUri(string Scheme, string? User, string Host, int? Port, string Parameters)
{
    /// <summary>Whether the host is an IPv4 or IPv6 literal rather than a name to resolve.</summary>
    public bool HostIsIpLiteral => IPAddress.TryParse(Host.Trim('[', ']'), out _);

    /// <summary>The value of a URI parameter such as <c>transport</c>, or null.</summary>
    public string? GetParameter(string name)
    {
        foreach (var part in Parameters.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var key = eq < 0 ? part : part[..eq];
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return eq < 0 ? string.Empty : part[(eq + 1)..];
            }
        }
        return null;
    }

    /// <summary>
    /// A user part as RFC 3261 (§25.1) allows it: letters, digits, <c>- _ . ! ~ * ' ( )</c> and
    /// <c>&amp; = + $ , ; ? /</c> as they are; every other character (<c>#</c>, <c>%</c>, a space…) as
    /// <c>%XX</c> of its UTF-8 bytes. A caller id of <c>123#</c> goes out as <c>sip:123%23@host</c>.
    /// </summary>
    public static string EscapeUser(string user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var builder = new System.Text.StringBuilder(user.Length);
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(user))
        {
            if (b < 0x80 && (char.IsAsciiLetterOrDigit((char)b) || "-_.!~*'()&=+$,;?/".Contains((char)b, StringComparison.Ordinal)))
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return builder.ToString();
    }

    public static SipUri Parse(string value) =>
        TryParse(value, out var uri) ? uri : throw new FormatException($"'{value}' is not a sip: or sips: URI.");

    public static bool TryParse([NotNullWhen(true)] string? value, [NotNullWhen(true)] out SipUri? uri)
    {
        uri = null;
        if (value is null)
        {
            return false;
        }
        var span = value.AsSpan().Trim();
        string scheme;
        if (span.StartsWith("sips:", StringComparison.OrdinalIgnoreCase))
        {
            scheme = "sips";
        }
        else if (span.StartsWith("sip:", StringComparison.OrdinalIgnoreCase))
        {
            scheme = "sip";
        }
        else
        {
            return false;
        }
        span = span[(scheme.Length + 1)..];

        var headers = span.IndexOf('?');
        if (headers >= 0)
        {
            span = span[..headers];
        }
        var at = span.LastIndexOf('@');
        string? user = null;
        if (at >= 0)
        {
            var userInfo = span[..at];
            var colon = userInfo.IndexOf(':');
            user = (colon < 0 ? userInfo : userInfo[..colon]).ToString();
            span = span[(at + 1)..];
        }

        var semi = span.IndexOf(';');
        var hostPort = semi < 0 ? span : span[..semi];
        var parameters = semi < 0 ? string.Empty : span[(semi + 1)..].ToString();

        string host;
        int? port = null;
        if (hostPort.StartsWith('['))
        {
            var close = hostPort.IndexOf(']');
            if (close < 0)
            {
                return false;
            }
            host = hostPort[..(close + 1)].ToString();
            var after = hostPort[(close + 1)..];
            if (after.StartsWith(':') && !TryParsePort(after[1..], out port))
            {
                return false;
            }
        }
        else
        {
            var colon = hostPort.LastIndexOf(':');
            host = (colon < 0 ? hostPort : hostPort[..colon]).ToString();
            if (colon >= 0 && !TryParsePort(hostPort[(colon + 1)..], out port))
            {
                return false;
            }
        }
        if (host.Length == 0)
        {
            return false;
        }
        uri = new SipUri(scheme, user, host, port, parameters);
        return true;
    }

    private static bool TryParsePort(ReadOnlySpan<char> text, out int? port)
    {
        port = null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 1 or > 65535)
        {
            return false;
        }
        port = value;
        return true;
    }

    public override string ToString()
    {
        var user = User is null ? string.Empty : User + "@";
        var port = Port is null ? string.Empty : ":" + Port.Value.ToString(CultureInfo.InvariantCulture);
        var parameters = Parameters.Length == 0 ? string.Empty : ";" + Parameters;
        return $"{Scheme}:{user}{Host}{port}{parameters}";
    }
}
