using System.Text.Json;
using Voice.Control.Calls;

namespace Voice.Host.Api;

/// <summary>The JSON shapes of the original API, extended: state names in lower case, ISO 8601 times, duration in seconds.</summary>
internal static class CallResponses
{
    public static object Call(CallSnapshot call, string mode = "announce") => new Dictionary<string, object?>
    {
        ["success"] = true,
        ["callId"] = call.CallId,
        ["to"] = call.To,
        ["state"] = State(call.State),
        ["status"] = State(call.State),
        ["mode"] = mode,
        ["reason"] = call.Reason,
        ["sipStatus"] = call.SipStatus,
        ["detail"] = call.Detail,
        ["callerId"] = call.CallerId,
        ["createdAt"] = call.CreatedAt,
        ["answeredAt"] = call.AnsweredAt,
        ["endedAt"] = call.EndedAt,
        ["duration"] = call.Duration is { } d ? (int)Math.Round(d.TotalSeconds) : null,
        ["tag"] = call.Tag is null ? null : JsonSerializer.Deserialize<JsonElement>(call.Tag),
        ["simulated"] = call.Simulated,
    };

    /// <summary>A stored call, in the same shape as a live one.</summary>
    public static object Call(Storage.CallRecord call) => new Dictionary<string, object?>
    {
        ["success"] = true,
        ["callId"] = call.CallId,
        ["to"] = call.To,
        ["state"] = call.State,
        ["status"] = call.State,
        ["mode"] = call.Mode,
        ["reason"] = call.Reason,
        ["sipStatus"] = call.SipStatus,
        ["detail"] = call.Detail,
        ["callerId"] = call.CallerId,
        ["createdAt"] = call.CreatedAt,
        ["answeredAt"] = call.AnsweredAt,
        ["endedAt"] = call.EndedAt,
        ["duration"] = call.Duration is { } d ? (int)Math.Round(d.TotalSeconds) : null,
        ["tag"] = call.Tag is null ? null : JsonSerializer.Deserialize<JsonElement>(call.Tag),
        ["simulated"] = call.Simulated,
    };

    public static string State(CallState state) => state switch
    {
        CallState.Queued => "queued",
        CallState.Dialing => "dialing",
        CallState.Ringing => "ringing",
        CallState.Playing => "playing",
        CallState.Completed => "completed",
        _ => "failed",
    };
}
