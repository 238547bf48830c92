using System.Diagnostics.CodeAnalysis;
using Voice.Control.Net;

namespace Voice.Control.Sip;

/// <summary>One SIP header line, name as it appeared on the wire and value trimmed.</summary>
public readonly record struct SipHeader(string Name, string Value);

/// <summary>
/// A SIP request or response as drachtio-server relays it: start line, headers in wire order, body.
/// Immutable; header lookups are case-insensitive and understand the compact forms of RFC 3261 §7.3.3.
/// </summary>
public sealed class SipMessage
{
    private readonly SipHeader[] _headers;

    private SipMessage(string? method, string? requestUri, int statusCode, string? reasonPhrase, SipHeader[] headers, string body)
    {
        Method = method;
        RequestUri = requestUri;
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        _headers = headers;
        Body = body;
    }

    /// <summary>The request method (INVITE, BYE, …), or null for a response.</summary>
    public string? Method { get; }

    /// <summary>The Request-URI, or null for a response.</summary>
    public string? RequestUri { get; }

    /// <summary>The status code of a response, or 0 for a request.</summary>
    public int StatusCode { get; }

    /// <summary>The reason phrase of a response, or null for a request.</summary>
    public string? ReasonPhrase { get; }

    public IReadOnlyList<SipHeader> Headers => _headers;

    /// <summary>The message body; empty when there is none.</summary>
    public string Body { get; }

    [MemberNotNullWhen(true, nameof(Method), nameof(RequestUri))]
    public bool IsRequest => Method is not null;

    public string? CallId => GetHeader("Call-ID");

    public string? From => GetHeader("From");

    public string? To => GetHeader("To");

    public string? Contact => GetHeader("Contact");

    public string? ContentType => GetHeader("Content-Type");

    public SipCSeq? CSeq => SipCSeq.TryParse(GetHeader("CSeq"), out var cseq) ? cseq : null;

    /// <summary>The body when it is a session description, otherwise null.</summary>
    public string? Sdp =>
        Body.Length > 0 && ContentType is { } type && type.StartsWith("application/sdp", StringComparison.OrdinalIgnoreCase)
            ? Body
            : null;

    /// <summary>The first value of a header, or null. Compact forms (i, f, t, m, …) match their long names.</summary>
    public string? GetHeader(string name)
    {
        foreach (var header in _headers)
        {
            if (SipHeaderNames.AreSame(header.Name, name))
            {
                return header.Value;
            }
        }
        return null;
    }

    /// <summary>Every value of a header, in wire order.</summary>
    public IEnumerable<string> GetHeaders(string name)
    {
        foreach (var header in _headers)
        {
            if (SipHeaderNames.AreSame(header.Name, name))
            {
                yield return header.Value;
            }
        }
    }

    public static SipMessage Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var message, out var error) ? message : throw new FormatException(error);

    /// <summary>
    /// Parses a SIP message. The body is everything after the first empty line: drachtio-server frames carry
    /// exactly one message, so the frame length, not Content-Length, bounds it.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, [NotNullWhen(true)] out SipMessage? message, [NotNullWhen(false)] out string? error)
    {
        message = null;
        var headerEnd = text.IndexOf("\r\n\r\n");
        var head = headerEnd < 0 ? text : text[..headerEnd];
        var body = headerEnd < 0 ? [] : text[(headerEnd + 4)..];

        var lineEnd = head.IndexOf("\r\n");
        var startLine = lineEnd < 0 ? head : head[..lineEnd];
        if (!TryParseStartLine(startLine, out var method, out var uri, out var status, out var reason, out error))
        {
            return false;
        }

        var headers = new List<SipHeader>(12);
        var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf("\r\n");
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 2)..];
            if (line.IsEmpty)
            {
                continue;
            }
            if (line[0] is ' ' or '\t')
            {
                // RFC 3261 §7.3.1: a line starting with white space continues the previous header.
                if (headers.Count == 0)
                {
                    error = $"SIP header continuation with no header before it: '{line.ToString()}'";
                    return false;
                }
                var last = headers[^1];
                headers[^1] = last with { Value = string.Concat(last.Value, " ", line.Trim().ToString()) };
                continue;
            }
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                error = $"SIP header line without a name: '{line.ToString()}'";
                return false;
            }
            headers.Add(new SipHeader(Names.Get(line[..colon].TrimEnd()), line[(colon + 1)..].Trim().ToString()));
        }

        message = new SipMessage(method, uri, status, reason, [.. headers], body.ToString());
        return true;
    }

    /// <summary>Header names, shared between messages (a few dozen in practice: the same ones on every message).</summary>
    private static readonly NameTable Names = new(capacity: 1024, maxLength: 64);

    private static bool TryParseStartLine(ReadOnlySpan<char> line, out string? method, out string? uri, out int status, out string? reason, [NotNullWhen(false)] out string? error)
    {
        method = uri = reason = null;
        status = 0;
        error = null;
        if (line.StartsWith("SIP/2.0 "))
        {
            var rest = line[8..];
            var space = rest.IndexOf(' ');
            var code = space < 0 ? rest : rest[..space];
            if (code.Length != 3 || !int.TryParse(code, out status) || status < 100)
            {
                error = $"SIP status line has no valid status code: '{line.ToString()}'";
                return false;
            }
            reason = space < 0 ? string.Empty : rest[(space + 1)..].ToString();
            return true;
        }

        var first = line.IndexOf(' ');
        var last = line.LastIndexOf(' ');
        if (first <= 0 || last <= first || !line[(last + 1)..].SequenceEqual("SIP/2.0"))
        {
            error = $"not a SIP request or status line: '{line.ToString()}'";
            return false;
        }
        method = line[..first].ToString();
        uri = line[(first + 1)..last].ToString();
        return true;
    }

    public override string ToString() =>
        IsRequest ? $"{Method} {RequestUri}" : $"{StatusCode} {ReasonPhrase}";
}
