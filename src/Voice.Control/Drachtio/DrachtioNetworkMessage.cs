using System.Globalization;

namespace Voice.Control.Drachtio;

/// <summary>
/// A typed view of <c>&lt;id&gt;|sip|&lt;source&gt;|&lt;wire length&gt;|&lt;transport&gt;|&lt;address&gt;|&lt;port&gt;|&lt;time&gt;|&lt;transaction id&gt;|&lt;dialog id&gt;|…</c>:
/// a SIP message drachtio-server received (source <c>network</c>) or generated on its own (source
/// <c>application</c>, transaction id <c>unsolicited</c>, such as a BYE after an ACK timeout).
/// </summary>
/// <remarks>
/// The wire length is not the length of the SIP text that follows (the stack edits Via), the transport can be
/// empty, and a locally generated response (nothing listening at the destination) has length 0 and port 0.
/// </remarks>
public readonly struct DrachtioNetworkMessage
{
    public DrachtioNetworkMessage(DrachtioMessage message) => Message = message;

    public DrachtioMessage Message { get; }

    public ReadOnlySpan<char> Source => Message.GetFieldSpan(2);

    public bool IsFromNetwork => Source.SequenceEqual("network");

    public ReadOnlySpan<char> Transport => Message.GetFieldSpan(4);

    public string Address => Message.GetField(5);

    public int Port => int.TryParse(Message.GetFieldSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : 0;

    public string TransactionId => Message.GetField(8);

    public ReadOnlySpan<char> TransactionIdSpan => Message.GetFieldSpan(8);

    /// <summary>The dialog id (<c>Call-ID;from-tag=…</c>), or empty outside a dialog (REGISTER, a new INVITE).</summary>
    public ReadOnlySpan<char> DialogId => Message.GetFieldSpan(9);

    /// <summary>True when drachtio-server generated the message itself rather than receiving it.</summary>
    public bool IsUnsolicited => Source.SequenceEqual("application") && TransactionIdSpan.SequenceEqual("unsolicited");
}
