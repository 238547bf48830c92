namespace Voice.Control.Sip;

/// <summary>Header-name comparison and the rules for headers an application may add to a request.</summary>
public static class SipHeaderNames
{
    // RFC 3261 §7.3.3 and later RFCs: compact form -> full name.
    private static readonly Dictionary<char, string> CompactForms = new()
    {
        ['i'] = "Call-ID",
        ['m'] = "Contact",
        ['e'] = "Content-Encoding",
        ['l'] = "Content-Length",
        ['c'] = "Content-Type",
        ['f'] = "From",
        ['s'] = "Subject",
        ['k'] = "Supported",
        ['t'] = "To",
        ['v'] = "Via",
        ['o'] = "Event",
        ['r'] = "Refer-To",
        ['b'] = "Referred-By",
        ['u'] = "Allow-Events",
        ['x'] = "Session-Expires",
    };

    // Headers the client (or drachtio-server) owns; letting callers set them would break the transaction.
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "Via", "Call-ID", "CSeq", "Content-Length", "Content-Type", "Max-Forwards",
        "Authorization", "Proxy-Authorization", "From", "Record-Route",
    };

    /// <summary>Whether two header names denote the same header, counting compact forms.</summary>
    public static bool AreSame(string a, string b) =>
        string.Equals(a, b, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(Expand(a), Expand(b), StringComparison.OrdinalIgnoreCase);

    private static string Expand(string name) =>
        name.Length == 1 && CompactForms.TryGetValue(char.ToLowerInvariant(name[0]), out var full) ? full : name;

    /// <summary>
    /// Checks a header an application wants to add to an outgoing request. The name must be an RFC 3261
    /// token; the value must not contain CR, LF or NUL, so that no input can end the header and inject
    /// another header, a body or a second message. Headers the client manages itself are refused.
    /// </summary>
    /// <exception cref="ArgumentException">The header cannot be sent as given.</exception>
    public static void ValidateCustomHeader(string name, string value)
    {
        if (string.IsNullOrEmpty(name) || !name.AsSpan().ContainsOnlyTokenChars())
        {
            throw new ArgumentException($"SIP header name '{name}' is not a valid token.", nameof(name));
        }
        if (Reserved.Contains(Expand(name)))
        {
            throw new ArgumentException($"SIP header '{name}' is managed by the client and cannot be set directly.", nameof(name));
        }
        ValidateValue(name, value);
    }

    /// <summary>Refuses a header value that could end the header line early.</summary>
    /// <exception cref="ArgumentException">The value contains CR, LF or NUL.</exception>
    public static void ValidateValue(string name, string? value)
    {
        if (value is not null && value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
        {
            throw new ArgumentException($"SIP header '{name}' contains a line break or NUL character.", nameof(value));
        }
    }

    private static bool ContainsOnlyTokenChars(this ReadOnlySpan<char> span)
    {
        foreach (var c in span)
        {
            var ok = char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '!' or '%' or '*' or '_' or '+' or '`' or '\'' or '~';
            if (!ok)
            {
                return false;
            }
        }
        return true;
    }
}
