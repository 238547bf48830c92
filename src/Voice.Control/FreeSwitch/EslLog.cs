using Microsoft.Extensions.Logging;

namespace Voice.Control.FreeSwitch;

internal static partial class EslLog
{
    [LoggerMessage(100, LogLevel.Trace, "ESL {Connection} >> {Command}")]
    public static partial void CommandSent(ILogger logger, string connection, string command);

    [LoggerMessage(101, LogLevel.Error, "ESL {Connection}: protocol error, closing: {Error}")]
    public static partial void ProtocolError(ILogger logger, string connection, string error);

    [LoggerMessage(102, LogLevel.Error, "ESL {Connection}: read loop failed")]
    public static partial void ReadLoopFailed(ILogger logger, string connection, Exception error);

    [LoggerMessage(103, LogLevel.Warning, "ESL {Connection}: a reply nobody asked for: {Reply}")]
    public static partial void UnmatchedReply(ILogger logger, string connection, string reply);

    [LoggerMessage(104, LogLevel.Debug, "ESL {Connection}: late reply to '{Command}' discarded: {Reply}")]
    public static partial void LateReplyDiscarded(ILogger logger, string connection, string command, string reply);

    [LoggerMessage(105, LogLevel.Information, "Connected to FreeSWITCH Event Socket at {Endpoint}")]
    public static partial void Connected(ILogger logger, string endpoint);

    [LoggerMessage(106, LogLevel.Warning, "Event Socket connection to {Endpoint} lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, string endpoint, string reason);

    [LoggerMessage(EventId = 107, Message = "Could not connect to FreeSWITCH Event Socket at {Endpoint}: {Reason}; retrying in {Delay}")]
    public static partial void ConnectFailed(ILogger logger, LogLevel level, string endpoint, string reason, TimeSpan delay);

    [LoggerMessage(108, LogLevel.Error, "FreeSWITCH Event Socket at {Endpoint} refused us: {Reason}")]
    public static partial void Refused(ILogger logger, string endpoint, string reason);

    [LoggerMessage(109, LogLevel.Warning, "No HEARTBEAT from FreeSWITCH at {Endpoint} for {Silence}; reconnecting")]
    public static partial void HeartbeatMissed(ILogger logger, string endpoint, TimeSpan silence);

    [LoggerMessage(110, LogLevel.Warning, "ESL event stream full: dropped the oldest event ({Dropped} so far); read Events faster or raise EventBufferCapacity")]
    public static partial void EventDropped(ILogger logger, long dropped);

    [LoggerMessage(111, LogLevel.Information, "FreeSWITCH at {Endpoint} is shutting down: {Notice}")]
    public static partial void DisconnectNotice(ILogger logger, string endpoint, string notice);
}
