using Microsoft.Extensions.Logging;

namespace Voice.Control.Calls;

/// <summary>Log messages of call orchestration (event ids 300–319).</summary>
internal static partial class CallLog
{
    private static readonly Func<ILogger, string, IDisposable?> CallScope = LoggerMessage.DefineScope<string>("Call {CallId}");

    /// <summary>Everything logged while a call runs carries its id (with the console's <c>IncludeScopes</c>, or any structured logger).</summary>
    public static IDisposable? Scope(ILogger logger, string callId) => CallScope(logger, callId);

    [LoggerMessage(300, LogLevel.Information, "Call {CallId} to {To} queued ({Backend})")]
    public static partial void Queued(ILogger logger, string callId, string to, string backend);

    [LoggerMessage(301, LogLevel.Information, "Call {CallId} failed: {Reason} {Detail}")]
    public static partial void Failed(ILogger logger, string callId, string reason, string detail);

    [LoggerMessage(302, LogLevel.Information, "Call {CallId} completed: {Reason}")]
    public static partial void Completed(ILogger logger, string callId, string reason);

    [LoggerMessage(303, LogLevel.Warning, "Call {CallId}: releasing the {What} failed: {Error}")]
    public static partial void CleanupFailed(ILogger logger, string callId, string what, string error);

    [LoggerMessage(304, LogLevel.Error, "Call {CallId} failed unexpectedly")]
    public static partial void Unexpected(ILogger logger, Exception exception, string callId);

    [LoggerMessage(305, LogLevel.Warning, "SIMULATED telephony backend: no call is really placed; every call reports simulated=true. Configure drachtio-server and FreeSWITCH for real calls.")]
    public static partial void SimulatedBackend(ILogger logger);

    [LoggerMessage(306, LogLevel.Error, "A StateChanged handler failed on {Change}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, CallStateChange change);

    [LoggerMessage(307, LogLevel.Warning, "The last state changes were not all delivered within {Timeout}: a StateChanged handler is still running")]
    public static partial void DeliveryNotDrained(ILogger logger, TimeSpan timeout);
}
