using System.Text;
using Voice.Control.Net;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// One message FreeSWITCH sent on an Event Socket connection: the header block as it came (values not yet
/// URL-decoded) and the body that its <c>Content-Length</c> announced. Events are read from it with
/// <see cref="EslEvent.Parse"/>.
/// </summary>
public sealed class EslMessage
{
    private KeyValuePair<string, string>[]? _headers;
    private readonly EslHeaderBlock? _block;
    private string? _bodyText;

    public EslMessage(KeyValuePair<string, string>[] headers, ReadOnlyMemory<byte> body)
        : this(headers, body, ownsBody: false)
    {
    }

    /// <summary>A message whose body may be nobody else's: <paramref name="ownsBody"/> is true when the framing
    /// copied it off the connection's buffer, and an event may then keep it instead of a copy.</summary>
    internal EslMessage(KeyValuePair<string, string>[] headers, ReadOnlyMemory<byte> body, bool ownsBody)
    {
        _headers = headers;
        Body = body;
        OwnsBody = ownsBody;
    }

    /// <summary>A message whose long header block stays bytes until its headers are asked for.</summary>
    internal EslMessage(EslHeaderBlock block, ReadOnlyMemory<byte> body, bool ownsBody)
    {
        _block = block;
        Body = body;
        OwnsBody = ownsBody;
    }

    /// <summary>The body's memory belongs to this message alone (see the constructor).</summary>
    internal bool OwnsBody { get; }

    /// <summary>The header block in wire order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers ??= _block!.Decode();

    /// <summary>The first header of that name (case-insensitive), as on the wire; null when absent.</summary>
    public string? this[string name]
    {
        get
        {
            if (_headers is null)
            {
                return _block!.Find(name);
            }
            foreach (var header in _headers)
            {
                if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    return header.Value;
                }
            }
            return null;
        }
    }

    /// <summary><c>auth/request</c>, <c>command/reply</c>, <c>api/response</c>, <c>text/event-plain</c>, …</summary>
    public string? ContentType => this["Content-Type"];

    /// <summary>The body bytes (<c>Content-Length</c> of them); empty when there was none.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The body as UTF-8 text.</summary>
    public string BodyText => _bodyText ??= Body.IsEmpty ? string.Empty : Encoding.UTF8.GetString(Body.Span);

    /// <summary>The <c>Reply-Text</c> of a command/reply.</summary>
    public string? ReplyText => this["Reply-Text"];

    /// <summary>
    /// Whether FreeSWITCH reported failure: a command/reply whose Reply-Text starts with <c>-ERR</c>, or an
    /// api/response whose body does (api results carry their status in the body).
    /// </summary>
    public bool IsError =>
        ReplyText is { } reply ? reply.StartsWith("-ERR", StringComparison.Ordinal)
        : ContentType == EslContentTypes.ApiResponse && Body.Span.StartsWith("-ERR"u8);

    /// <summary>
    /// What a reply says, for logs and errors: the Reply-Text, or the first line of an api body; at most
    /// <see cref="MaxSummary"/> characters, printable, whatever the peer sent.
    /// </summary>
    public string Summary
    {
        get
        {
            if (ReplyText is { } reply)
            {
                return WireText.Preview(reply, MaxSummary);
            }
            var first = Body.Span;
            var newline = first.IndexOf((byte)'\n');
            first = (newline < 0 ? first : first[..newline]).Trim(" \t\r"u8);
            return WireText.Preview(new System.Buffers.ReadOnlySequence<byte>(first[..Math.Min(first.Length, MaxSummary + 1)].ToArray()), MaxSummary);
        }
    }

    /// <summary>The longest <see cref="Summary"/>.</summary>
    public const int MaxSummary = 200;

    public override string ToString() => $"{ContentType ?? "(no Content-Type)"} {Summary}";
}

/// <summary>The Content-Type values FreeSWITCH's Event Socket uses.</summary>
public static class EslContentTypes
{
    public const string AuthRequest = "auth/request";
    public const string CommandReply = "command/reply";
    public const string ApiResponse = "api/response";
    public const string EventPlain = "text/event-plain";
    public const string EventJson = "text/event-json";
    public const string DisconnectNotice = "text/disconnect-notice";
    public const string RudeRejection = "text/rude-rejection";
}
