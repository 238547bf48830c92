using System.Text.Json;
using Voice.Control.Calls;

namespace Voice.Host.Api;

/// <summary>The JSON shapes of the original API, extended: state names in lower case, ISO 8601 times, duration in seconds.</summary>
internal static class CallResponses
{
    /// <summary>A live call.</summary>
    public static Dictionary<string, object?> Call(CallSnapshot call) => Shape(
        call.CallId, call.To, State(call.State), "announce", call.Reason, call.SipStatus, call.Detail, call.CallerId,
        call.CreatedAt, call.AnsweredAt, call.EndedAt, call.Duration, call.Tag, call.Simulated);

    /// <summary>A stored call, in the same shape as a live one.</summary>
    public static Dictionary<string, object?> Call(Storage.CallRecord call) => Shape(
        call.CallId, call.To, call.State, call.Mode, call.Reason, call.SipStatus, call.Detail, call.CallerId,
        call.CreatedAt, call.AnsweredAt, call.EndedAt, call.Duration, call.Tag, call.Simulated);

    private static Dictionary<string, object?> Shape(
        string callId, string to, string state, string mode, string? reason, int? sipStatus, string? detail, string? callerId,
        DateTimeOffset createdAt, DateTimeOffset? answeredAt, DateTimeOffset? endedAt, TimeSpan? duration, string? tag, bool simulated) => new()
    {
        ["success"] = true,
        ["callId"] = callId,
        ["to"] = to,
        ["state"] = state,
        ["status"] = state,
        ["mode"] = mode,
        ["reason"] = reason,
        ["sipStatus"] = sipStatus,
        ["detail"] = detail,
        ["callerId"] = callerId,
        ["createdAt"] = createdAt,
        ["answeredAt"] = answeredAt,
        ["endedAt"] = endedAt,
        ["duration"] = duration is { } d ? (int)Math.Round(d.TotalSeconds) : null,
        ["tag"] = tag is null ? null : JsonSerializer.Deserialize<JsonElement>(tag),
        ["simulated"] = simulated,
    };

    /// <summary>The call's webhooks and how their delivery went (only on a single call: a list would cost a query per call).</summary>
    public static Dictionary<string, object?> WithWebhooks(Dictionary<string, object?> call, IReadOnlyList<Webhooks.WebhookState> webhooks)
    {
        if (webhooks.Count > 0)
        {
            call["webhooks"] = new
            {
                delivered = webhooks.Count(w => w.Status == "delivered"),
                pending = webhooks.Count(w => w.Status == "pending"),
                failed = webhooks.Count(w => w.Status == "failed"),
                deliveries = webhooks.Select(w => new
                {
                    sequence = w.Sequence,
                    @event = w.Event,
                    status = w.Status,
                    attempts = w.Attempts,
                    lastHttpStatus = w.LastHttpStatus,
                    lastError = w.LastError,
                    nextAttemptAt = w.NextAttemptAt,
                    deliveredAt = w.DeliveredAt,
                }),
            };
        }
        return call;
    }

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
