namespace Voice.Control.Drachtio;

/// <summary>Dialog states as RFC 3261 §12 names them.</summary>
public enum DialogState
{
    /// <summary>The INVITE is out and no final response has come; an 18x may have created an early dialog.</summary>
    Early,

    /// <summary>A 2xx was received and acknowledged.</summary>
    Confirmed,

    /// <summary>BYE sent or received, or the dialog could no longer be controlled.</summary>
    Terminated,
}
