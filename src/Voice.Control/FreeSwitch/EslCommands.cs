using System.Text;

namespace Voice.Control.FreeSwitch;

/// <summary>
/// Builds Event Socket commands and guards what goes into them: a newline in an argument would end the
/// command early and start another one, so arguments are checked (or, for spoken text, cleaned) first.
/// </summary>
public static class EslCommands
{
    /// <summary>Throws unless <paramref name="value"/> is one non-empty line.</summary>
    public static void RequireOneLine(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, paramName);
        if (value.AsSpan().ContainsAny('\r', '\n'))
        {
            throw new ArgumentException("must be one line: a line break would end the Event Socket command and start another", paramName);
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is one word (an event name, a header name).</summary>
    public static void RequireToken(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, paramName);
        foreach (var c in value)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                throw new ArgumentException($"'{value}' must be a single word without spaces or control characters", paramName);
            }
        }
    }

    /// <summary>
    /// Arguments longer than this travel as a counted <c>text/plain</c> body instead of an
    /// <c>execute-app-arg</c> header: FreeSWITCH releases before 1.6 read a command into a fixed 2 KB buffer and
    /// parse whatever does not fit as the next command, which a long message must never become.
    /// </summary>
    public const int MaxHeaderArgumentBytes = 1024;

    /// <summary>
    /// <c>sendmsg</c> with <c>call-command: execute</c> for an outbound session. <c>event-lock</c> makes
    /// FreeSWITCH run the applications in order; <c>Event-UUID</c> comes back as the Application-UUID of the
    /// CHANNEL_EXECUTE_COMPLETE that ends it.
    /// </summary>
    public static EslCommand Execute(string uuid, string application, string? argument, string eventUuid)
    {
        RequireToken(uuid, nameof(uuid));
        RequireToken(application, nameof(application));
        var builder = new StringBuilder(160)
            .Append("sendmsg ").Append(uuid).Append('\n')
            .Append("call-command: execute\n")
            .Append("execute-app-name: ").Append(application).Append('\n');
        string? body = null;
        if (!string.IsNullOrEmpty(argument))
        {
            if (argument.AsSpan().ContainsAny('\r', '\n'))
            {
                throw new ArgumentException("must be one line: a line break would end the Event Socket command and start another", nameof(argument));
            }
            if (Encoding.UTF8.GetByteCount(argument) <= MaxHeaderArgumentBytes)
            {
                builder.Append("execute-app-arg: ").Append(argument).Append('\n');
            }
            else
            {
                body = argument;
            }
        }
        builder.Append("event-lock: true\n").Append("Event-UUID: ").Append(eventUuid);
        if (body is not null)
        {
            builder.Append("\ncontent-type: text/plain");
        }
        return new EslCommand(builder.ToString(), body);
    }

    /// <summary><c>sendmsg</c> with <c>call-command: hangup</c>.</summary>
    public static string Hangup(string uuid, string cause)
    {
        RequireToken(uuid, nameof(uuid));
        RequireToken(cause, nameof(cause));
        return $"sendmsg {uuid}\ncall-command: hangup\nhangup-cause: {cause}";
    }
}

/// <summary>An Event Socket command (its lines, without the final blank line) and an optional counted body.</summary>
public readonly record struct EslCommand(string Text, string? Body = null);
