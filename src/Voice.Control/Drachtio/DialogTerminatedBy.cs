namespace Voice.Control.Drachtio;

/// <summary>Who ended a dialog.</summary>
public enum DialogTerminatedBy
{
    /// <summary>This application hung up (BYE from us).</summary>
    Local,

    /// <summary>The far end hung up (BYE received), or drachtio-server ended the dialog on its behalf.</summary>
    Remote,

    /// <summary>
    /// The link to drachtio-server was lost, so the dialog can no longer be controlled. The client hangs it up
    /// as soon as the link is back, so that no call stays half open.
    /// </summary>
    ConnectionLost,
}
