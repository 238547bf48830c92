using System.Text;

namespace Voice.Control.Sip;

/// <summary>
/// Helpers for name-addr / addr-spec header values such as From, To and Contact
/// (<c>"Alice" &lt;sip:alice@example.com&gt;;tag=1928301774</c>).
/// </summary>
public static class SipAddress
{
    /// <summary>The URI of a name-addr or addr-spec, without display name or header parameters.</summary>
    public static string GetUri(string value)
    {
        var span = value.AsSpan();
        var open = IndexOfUnquoted(span, '<');
        if (open >= 0)
        {
            var close = span[open..].IndexOf('>');
            return close < 0 ? span[(open + 1)..].Trim().ToString() : span[(open + 1)..(open + close)].Trim().ToString();
        }
        // addr-spec without brackets: header parameters start at the first ';' (RFC 3261 §20.10).
        var semi = span.IndexOf(';');
        return (semi < 0 ? span : span[..semi]).Trim().ToString();
    }

    /// <summary>
    /// The entries of a comma-separated header value (<c>Record-Route: &lt;sip:a;lr&gt;, &lt;sip:b;lr&gt;</c>); commas
    /// inside angle brackets or quotes do not separate (RFC 3261 §7.3.1).
    /// </summary>
    public static IEnumerable<string> SplitList(string value)
    {
        var start = 0;
        var inBrackets = false;
        var inQuotes = false;
        for (var i = 0; i < value.Length; i++)
        {
            switch (value[i])
            {
                case '"' when !inBrackets:
                    inQuotes = !inQuotes;
                    break;
                case '<' when !inQuotes:
                    inBrackets = true;
                    break;
                case '>' when !inQuotes:
                    inBrackets = false;
                    break;
                case ',' when !inQuotes && !inBrackets:
                    if (value.AsSpan(start, i - start).Trim().Length > 0)
                    {
                        yield return value[start..i].Trim();
                    }
                    start = i + 1;
                    break;
            }
        }
        if (value.AsSpan(start).Trim().Length > 0)
        {
            yield return value[start..].Trim();
        }
    }

    /// <summary>The tag parameter of a From or To value, or null.</summary>
    public static string? GetTag(string? value) => value is null ? null : GetParameter(value, "tag");

    /// <summary>A header parameter (after the URI, never inside the angle brackets), or null.</summary>
    public static string? GetParameter(string value, string name)
    {
        var span = value.AsSpan();
        var open = IndexOfUnquoted(span, '<');
        if (open >= 0)
        {
            var close = span[open..].IndexOf('>');
            span = close < 0 ? [] : span[(open + close + 1)..];
        }
        else
        {
            var semi = span.IndexOf(';');
            span = semi < 0 ? [] : span[semi..];
        }

        while (!span.IsEmpty)
        {
            var semi = span.IndexOf(';');
            if (semi < 0)
            {
                break;
            }
            span = span[(semi + 1)..];
            var end = span.IndexOf(';');
            var param = (end < 0 ? span : span[..end]).Trim();
            var eq = param.IndexOf('=');
            var key = (eq < 0 ? param : param[..eq]).Trim();
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return eq < 0 ? string.Empty : param[(eq + 1)..].Trim().Trim('"').ToString();
            }
        }
        return null;
    }

    /// <summary>
    /// Formats a name-addr. The display name is written as a quoted-string with <c>"</c> and <c>\</c>
    /// escaped (RFC 3261 §25.1); line breaks are refused so the value cannot end the header.
    /// </summary>
    public static string Format(string? displayName, string uri)
    {
        SipHeaderNames.ValidateValue("display name", displayName);
        SipHeaderNames.ValidateValue("URI", uri);
        if (string.IsNullOrEmpty(displayName))
        {
            return $"<{uri}>";
        }
        var sb = new StringBuilder(displayName.Length + uri.Length + 6).Append('"');
        foreach (var c in displayName)
        {
            if (c is '"' or '\\')
            {
                sb.Append('\\');
            }
            sb.Append(c);
        }
        return sb.Append("\" <").Append(uri).Append('>').ToString();
    }

    private static int IndexOfUnquoted(ReadOnlySpan<char> span, char target)
    {
        var quoted = false;
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == target)
            {
                return i;
            }
        }
        return -1;
    }
}
