using System.Globalization;
using System.Text;

namespace Voice.Control.Sip;

/// <summary>
/// Writes the minimal SIP text that drachtio-server expects from an application: start line, the headers
/// the application owns, Content-Length and body. drachtio-server adds Via, Call-ID, CSeq, tags, Contact
/// and Max-Forwards for new requests, and fills the target of in-dialog requests.
/// </summary>
internal sealed class SipMessageBuilder
{
    private readonly StringBuilder _text = new(256);

    private SipMessageBuilder(string startLine) => _text.Append(startLine).Append("\r\n");

    public static SipMessageBuilder Request(string method, string requestUri)
    {
        SipHeaderNames.ValidateValue("Request-URI", requestUri);
        if (requestUri.Contains(' '))
        {
            throw new ArgumentException($"Request-URI '{requestUri}' contains a space.", nameof(requestUri));
        }
        return new SipMessageBuilder($"{method} {requestUri} SIP/2.0");
    }

    public static SipMessageBuilder Response(int statusCode, string reasonPhrase) =>
        new(string.Create(CultureInfo.InvariantCulture, $"SIP/2.0 {statusCode} {reasonPhrase}"));

    /// <summary>Adds a header whose value the caller has already checked or built itself.</summary>
    public SipMessageBuilder Header(string name, string value)
    {
        _text.Append(name).Append(": ").Append(value).Append("\r\n");
        return this;
    }

    public SipMessageBuilder Headers(IEnumerable<KeyValuePair<string, string>>? headers)
    {
        if (headers is not null)
        {
            foreach (var (name, value) in headers)
            {
                Header(name, value);
            }
        }
        return this;
    }

    /// <summary>Ends the header block with Content-Length (and Content-Type when there is a body).</summary>
    public string Build(string? body = null, string contentType = "application/sdp")
    {
        if (!string.IsNullOrEmpty(body))
        {
            _text.Append("Content-Type: ").Append(contentType).Append("\r\n");
        }
        var length = string.IsNullOrEmpty(body) ? 0 : Encoding.UTF8.GetByteCount(body);
        _text.Append("Content-Length: ").Append(length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
        if (length > 0)
        {
            _text.Append(body);
        }
        return _text.ToString();
    }
}
