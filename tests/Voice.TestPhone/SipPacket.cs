using System.Text;

namespace Voice.TestPhone;

/// <summary>One SIP message as the phone sees it: start line, headers in order (compact names expanded), body.</summary>
public sealed class SipPacket
{
    private static readonly Dictionary<string, string> Compact = new(StringComparer.OrdinalIgnoreCase)
    {
        ["v"] = "Via", ["f"] = "From", ["t"] = "To", ["i"] = "Call-ID", ["m"] = "Contact", ["l"] = "Content-Length", ["c"] = "Content-Type",
    };

    private SipPacket(string startLine, List<KeyValuePair<string, string>> headers, string body)
    {
        StartLine = startLine;
        Headers = headers;
        Body = body;
    }

    public string StartLine { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    public string Body { get; }

    public bool IsRequest => !StartLine.StartsWith("SIP/2.0 ", StringComparison.Ordinal);

    /// <summary>The method of a request, or the CSeq method of a response.</summary>
    public string Method => IsRequest ? StartLine.Split(' ')[0] : (Header("CSeq") ?? string.Empty).Split(' ').Last();

    public string RequestUri => StartLine.Split(' ')[1];

    public int Status => IsRequest ? 0 : int.Parse(StartLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

    public string CallId => Header("Call-ID") ?? string.Empty;

    public string? Header(string name) => Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public IEnumerable<string> All(string name) => Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

    public static SipPacket? TryParse(ReadOnlySpan<byte> datagram)
    {
        var text = Encoding.UTF8.GetString(datagram);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (split < 0)
        {
            return null;
        }
        var lines = text[..split].Split("\r\n");
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }
            var name = line[..colon].Trim();
            headers.Add(new(Compact.GetValueOrDefault(name, name), line[(colon + 1)..].Trim()));
        }
        return new SipPacket(lines[0], headers, text[(split + 4)..]);
    }

    /// <summary>The tag parameter of a From or To value.</summary>
    public static string? Tag(string? address)
    {
        if (address is null)
        {
            return null;
        }
        var at = address.IndexOf(";tag=", StringComparison.OrdinalIgnoreCase);
        return at < 0 ? null : address[(at + 5)..].Split(';', '>')[0];
    }

    /// <summary>The URI inside a name-addr (<c>"x" &lt;sip:a@b&gt;;p</c>) or the addr-spec itself.</summary>
    public static string Uri(string address)
    {
        var open = address.IndexOf('<', StringComparison.Ordinal);
        return open < 0 ? address.Split(';')[0].Trim() : address[(open + 1)..address.IndexOf('>', open)];
    }

    /// <summary>A message: start line, headers, Content-Length, body.</summary>
    public static byte[] Build(string startLine, IEnumerable<KeyValuePair<string, string>> headers, string body = "", string? contentType = null)
    {
        var sb = new StringBuilder(startLine).Append("\r\n");
        foreach (var (name, value) in headers)
        {
            sb.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        if (body.Length > 0)
        {
            sb.Append("Content-Type: ").Append(contentType ?? "application/sdp").Append("\r\n");
        }
        sb.Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(body)).Append("\r\n\r\n").Append(body);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public override string ToString() => StartLine;
}
