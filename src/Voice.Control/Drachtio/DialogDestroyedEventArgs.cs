using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>How a dialog ended: who ended it, why, and the request that ended it when there was one.</summary>
public sealed class DialogDestroyedEventArgs(DialogTerminatedBy by, string reason, SipMessage? request, DateTimeOffset at) : EventArgs
{
    public DialogTerminatedBy By { get; } = by;

    public string Reason { get; } = reason;

    /// <summary>The BYE from the far end, when that is what ended the dialog.</summary>
    public SipMessage? Request { get; } = request;

    public DateTimeOffset At { get; } = at;
}
