using System.Text.Json;
using Voice.Control.Net;

namespace Voice.Host.Webhooks;

/// <summary>
/// What a webhook says: the original's fields (<c>callId</c>, <c>timestamp</c>, <c>event</c>, <c>to</c>,
/// <c>duration</c>, <c>reason</c>) plus <c>sequence</c> (1, 2, … per call, to order and de-duplicate),
/// <c>sipStatus</c>, <c>detail</c>, the call's <c>tag</c> and <c>simulated</c>; for a call whose script found something
/// out, <c>acknowledged</c> (alerts), <c>digits</c> and <c>results</c> (every gather, digit sent and hook call so far).
/// </summary>
public sealed record WebhookPayload(
    string CallId, int Sequence, string Event, DateTimeOffset Timestamp, string To, long? Duration,
    string? Reason, int? SipStatus, string? Detail, string? TagJson, bool Simulated)
{
    /// <summary>What the script had found out when the state changed.</summary>
    public Voice.Control.Calls.CallResults Results { get; init; } = Voice.Control.Calls.CallResults.None;

    /// <summary>The alert the call is an attempt of, and which attempt (with <c>to</c>, which number was called).</summary>
    public string? AlertId { get; init; }

    public int? Attempt { get; init; }

    /// <summary>For a call that came in: who called, from where, and the application it ran.</summary>
    public Inbound? Inbound { get; init; }

    /// <summary>The body of the webhook of a recorded state change (what the store is given to build its outbox rows with).</summary>
    public static string Body(Voice.Host.Storage.OutboxEvent e)
    {
        long? duration = e.State is "completed" or "failed" && e.AnsweredAt is { } answered ? (long)Math.Round((e.At - answered) / 1000.0) : null;
        return Json(new WebhookPayload(e.CallId, e.Sequence, e.State, DateTimeOffset.FromUnixTimeMilliseconds(e.At), e.To, duration, e.Reason, e.SipStatus, e.Detail, e.Tag, e.Simulated)
        {
            Results = e.Results,
            AlertId = e.AlertId,
            Attempt = (int?)e.Attempt,
            Inbound = e.Inbound is { } inbound ? new Inbound(inbound.From, inbound.Source, inbound.Application) : null,
        });
    }

    public static string Json(WebhookPayload payload)
    {
        return JsonText.Write(payload, static (json, payload) =>
        {
            json.WriteStartObject();
            json.WriteString("callId", payload.CallId);
            json.WriteNumber("sequence", payload.Sequence);
            json.WriteString("event", payload.Event);
            json.WriteString("state", payload.Event);
            json.WriteString("timestamp", payload.Timestamp);
            json.WriteString("to", payload.To);
            WriteNumberOrNull(json, "duration", payload.Duration);
            json.WriteString("reason", payload.Reason);
            WriteNumberOrNull(json, "sipStatus", payload.SipStatus);
            json.WriteString("detail", payload.Detail);
            json.WritePropertyName("tag");
            if (payload.TagJson is null)
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteRawValue(payload.TagJson);
            }
            json.WriteBoolean("simulated", payload.Simulated);
            if (payload.Inbound is { } inbound)
            {
                json.WriteString("direction", "inbound");
                json.WriteString("from", inbound.From);
                json.WriteString("source", inbound.Source);
                json.WriteString("application", inbound.Application);
            }
            if (payload.AlertId is { } alertId)
            {
                json.WriteString("alertId", alertId);
                WriteNumberOrNull(json, "attempt", payload.Attempt);
            }
            if (!payload.Results.IsEmpty)
            {
                if (payload.Results.Acknowledged is { } acknowledged)
                {
                    json.WriteBoolean("acknowledged", acknowledged);
                }
                json.WriteString("digits", payload.Results.Digits);
                json.WritePropertyName("results");
                // Without recordings' file names: a name is the secret part of its upload URL (GET the call for its download URL).
                Voice.Control.Calls.CallResultsJson.Write(json, payload.Results, withFiles: false);
            }
            json.WriteEndObject();
        });
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}

/// <summary>What a webhook of a call that came in says besides: the caller, the source and the application.</summary>
public sealed record Inbound(string? From, string? Source, string? Application);
