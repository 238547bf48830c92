namespace Voice.Control.Drachtio;

public enum RegistrationState
{
    /// <summary>Not registered yet, or the last attempt failed and a retry is scheduled.</summary>
    Unregistered,

    /// <summary>The PBX accepted the binding; it is refreshed before it expires.</summary>
    Registered,

    /// <summary>Stopped: the binding was removed (Expires: 0) or the client shut down.</summary>
    Stopped,
}
