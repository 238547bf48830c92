namespace Voice.Control.Drachtio;

/// <summary>
/// A typed view of <c>&lt;id&gt;|response|&lt;request id&gt;|OK|…</c>: drachtio-server's reply to a request
/// the application sent. For SIP it sent on our behalf the reply echoes the message as it went out, with
/// <c>Msg sent:</c>, the transport, destination and the stack transaction id.
/// </summary>
public readonly struct DrachtioResponse
{
    // Fields of a "Msg sent" echo: [4] source, [5] wire length, [6] transport, [7] address, [8] port,
    // [9] time, [10] transaction id, then (echoes of responses we sent) [11] dialog id and an empty field.
    private const int TransactionIdField = 10;
    private const int DialogIdField = 11;

    public DrachtioResponse(DrachtioMessage message) => Message = message;

    public DrachtioMessage Message { get; }

    /// <summary>The id of the request this answers (field 2).</summary>
    public ReadOnlySpan<char> RequestId => Message.GetFieldSpan(2);

    /// <summary><c>OK</c>, <c>NOK</c> or <c>NO</c> (field 3).</summary>
    public ReadOnlySpan<char> Status => Message.GetFieldSpan(3);

    public bool IsOk => Status.SequenceEqual("OK");

    /// <summary>More replies to the same request will follow (drachtio marks them <c>continue</c>).</summary>
    public bool IsContinue => Message.GetFieldSpan(12).SequenceEqual("continue");

    /// <summary>The server's reason for NOK/NO, such as <c>incorrect secret</c>.</summary>
    public string FailureReason => IsOk ? string.Empty : Message.GetField(4);

    /// <summary>Whether this reply echoes a SIP message the server sent for us.</summary>
    /// <remarks>The field count differs between echoes of requests and responses: search, do not count.</remarks>
    public bool IsMessageSent => Message.IndexOfField("Msg sent:") > 0;

    /// <summary>The stack transaction id of the SIP message sent, or null.</summary>
    public string? TransactionId => IsMessageSent ? Message.GetField(TransactionIdField) : null;

    /// <summary>The dialog id drachtio gave a response we sent, or null.</summary>
    public string? DialogId
    {
        get
        {
            var sent = Message.IndexOfField("Msg sent:");
            if (sent <= DialogIdField)
            {
                return null;
            }
            var id = Message.GetFieldSpan(DialogIdField);
            return id.IsEmpty ? null : id.ToString();
        }
    }
}
