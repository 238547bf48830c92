using Microsoft.Extensions.Logging;

namespace Voice.Control.Media;

/// <summary>Log messages of the media layer (event ids 200–219).</summary>
internal static partial class MediaLog
{
    [LoggerMessage(200, LogLevel.Information, "Media server {Server}: SIP profile {Profile} is running")]
    public static partial void ProfileRunning(ILogger logger, string server, string profile);

    [LoggerMessage(201, LogLevel.Error, "Media server {Server}: {Problem}")]
    public static partial void ProfileNotRunning(ILogger logger, string server, string problem);

    [LoggerMessage(202, LogLevel.Debug, "Endpoint {EndpointId} created on {Server}: channel {Uuid}")]
    public static partial void EndpointCreated(ILogger logger, string endpointId, string server, string uuid);

    [LoggerMessage(203, LogLevel.Warning, "Endpoint {EndpointId} on {Server} could not be created: {Error}")]
    public static partial void EndpointFailed(ILogger logger, string endpointId, string server, string error);

    [LoggerMessage(204, LogLevel.Debug, "Endpoint {EndpointId} destroyed: {Cause} ({By})")]
    public static partial void EndpointDestroyed(ILogger logger, string endpointId, string cause, EndpointTerminatedBy by);

    [LoggerMessage(205, LogLevel.Warning, "FreeSWITCH connected channel {Uuid} (User-Agent '{UserAgent}') for no waiting endpoint; hanging it up")]
    public static partial void UnpairedSession(ILogger logger, string uuid, string userAgent);

    [LoggerMessage(208, LogLevel.Warning, "Channel {Uuid}, handed over by a dialplan, could not be taken: {Error}; hanging it up")]
    public static partial void HandOverFailed(ILogger logger, string uuid, string error);

    [LoggerMessage(206, LogLevel.Warning, "Endpoint {EndpointId}: cleanup step failed: {Error}")]
    public static partial void CleanupFailed(ILogger logger, string endpointId, string error);

    [LoggerMessage(207, LogLevel.Warning, "Media server {Server} skipped: {Error}")]
    public static partial void ServerSkipped(ILogger logger, string server, string error);
}
