using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>A request the far end sent inside a dialog (INFO, re-INVITE, UPDATE, …), already answered.</summary>
public sealed class SipRequestReceivedEventArgs(SipMessage request, int answeredWith) : EventArgs
{
    public SipMessage Request { get; } = request;

    /// <summary>The status code the client answered with.</summary>
    public int AnsweredWith { get; } = answeredWith;
}
