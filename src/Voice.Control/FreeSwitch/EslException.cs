namespace Voice.Control.FreeSwitch;

/// <summary>Base type of every error the Event Socket clients report about their link to FreeSWITCH.</summary>
public class EslException : Exception
{
    public EslException(string message) : base(message) { }

    public EslException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>
/// FreeSWITCH sent bytes that are not a valid Event Socket message. The connection is closed, because the
/// stream can no longer be trusted to be in sync; the message names the offending message.
/// </summary>
public sealed class EslProtocolException(string message) : EslException(message);

/// <summary>FreeSWITCH refused the Event Socket password (<c>-ERR invalid</c>). The client does not retry.</summary>
public sealed class EslAuthenticationException(string message) : EslException(message);

/// <summary>
/// FreeSWITCH's Event Socket ACL (<c>apply-inbound-acl</c>) does not admit this host: it answered
/// <c>text/rude-rejection</c> instead of asking for the password. The client does not retry.
/// </summary>
public sealed class EslAccessDeniedException(string message) : EslException(message);

/// <summary>A command or api call that FreeSWITCH answered with <c>-ERR</c>.</summary>
public sealed class EslCommandException(string command, string reply)
    : EslException($"FreeSWITCH refused '{command}': {reply}")
{
    public string Command { get; } = command;

    /// <summary>FreeSWITCH's answer, such as <c>-ERR no_such_command Command not found!</c>.</summary>
    public string Reply { get; } = reply;
}

/// <summary>
/// The request could not complete because the Event Socket connection is down: it was lost while the request
/// was in flight (FreeSWITCH restarted or the channel hung up), or it was not up when the request was made.
/// </summary>
public sealed class EslConnectionLostException : EslException
{
    public EslConnectionLostException(string message, Exception? inner = null) : base(message, inner) { }

    internal static EslConnectionLostException Lost(Exception? cause) =>
        new("Event Socket connection to FreeSWITCH lost" + (cause is null ? string.Empty : ": " + cause.Message), cause);

    internal static EslConnectionLostException NotConnected() => new("not connected to FreeSWITCH's Event Socket");
}
