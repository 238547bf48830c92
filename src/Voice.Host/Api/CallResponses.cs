using System.Text.Json;
using System.Text.Json.Serialization;
using Voice.Control.Calls;
using Voice.Host.Storage;

namespace Voice.Host.Api;

/// <summary>
/// A call as the API shows it: the original's fields (<c>success</c>, <c>callId</c>, <c>to</c>, <c>state</c>,
/// timestamps, <c>duration</c>) with <c>status</c> as a synonym of <c>state</c>, then VoiceBridge's extensions.
/// </summary>
public sealed record CallView(
    string CallId, string To, string State, string Mode, string? Reason, int? SipStatus, string? Detail, string? CallerId,
    DateTimeOffset CreatedAt, DateTimeOffset? AnsweredAt, DateTimeOffset? EndedAt,
    [property: JsonPropertyOrder(1)] int? Duration,
    [property: JsonPropertyOrder(1), JsonConverter(typeof(RawJson))] string? Tag,
    [property: JsonPropertyOrder(1)] bool Simulated)
{
    [JsonPropertyOrder(-1)]
    public bool Success => true;

    /// <summary>The original's name for <see cref="State"/>.</summary>
    public string Status => State;

    /// <summary><c>outbound</c>, or <c>inbound</c> for a call that came in (then <c>callerId</c> is the caller).</summary>
    [JsonPropertyOrder(1)]
    public string Direction { get; init; } = "outbound";

    /// <summary>For a call that came in: <c>freeswitch</c>, <c>sip</c> or <c>simulated</c>.</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Source { get; init; }

    /// <summary>For a call that came in: the application it ran.</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Application { get; init; }

    /// <summary>For an alert with <c>acknowledge</c>: whether the callee pressed the digit (null until known).</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Acknowledged { get; init; }

    /// <summary>Every key the callee pressed in the call's gathers, in order (null for a call that asked for none).</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Digits { get; init; }

    /// <summary>For a click-to-call: the agent's extension (rung first).</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Agent { get; init; }

    /// <summary>For a click-to-call: the number the agent is connected to.</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Destination { get; init; }

    /// <summary>The call's recordings, each with its file's state and download URL (only on a single call).</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<RecordingView>? Recordings { get; init; }

    /// <summary>What the script found out: each gather, the digits sent, each hook call and its outcome.</summary>
    [JsonPropertyOrder(1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Results { get; init; }

    /// <summary>For an attempt of an alert (retry, escalate): the alert, its outcome and every attempt (on <c>GET /api/call/{id}</c>).</summary>
    [JsonPropertyOrder(2)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AlertView? Alert { get; init; }

    /// <summary>The call's webhooks and how their delivery went (on <c>GET /api/call/{id}</c> when it has any).</summary>
    [JsonPropertyOrder(2)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public WebhookSummary? Webhooks { get; init; }
}

/// <summary>The answer to <c>POST /api/outbound-call</c>, as in the original.</summary>
public sealed record PlacedView(string CallId, string Status, bool Simulated)
{
    [JsonPropertyOrder(-1)]
    public bool Success => true;

    public string Message => "Call initiated";
}

/// <summary>The active calls, as the original lists them.</summary>
public record CallListView(IReadOnlyList<CallView> Calls)
{
    [JsonPropertyOrder(-2)]
    public bool Success => true;

    [JsonPropertyOrder(-1)]
    public int Count => Calls.Count;
}

/// <summary>One page of the history; <see cref="Next"/> is the cursor of the next page (null at the end).</summary>
public sealed record CallHistoryView(IReadOnlyList<CallView> Calls, string? Next) : CallListView(Calls);

/// <summary>
/// An alert: <c>status</c> active, acknowledged, answered, exhausted or canceled; who acknowledged (or answered) it;
/// when the next attempt is due; and every attempt with its number and outcome.
/// </summary>
public sealed record AlertView(
    string AlertId, string Status, string? AcknowledgedBy, string? AnsweredBy, DateTimeOffset? NextAttemptAt, IReadOnlyList<AttemptView> Attempts);

/// <summary>One attempt of an alert.</summary>
public sealed record AttemptView(int Attempt, string CallId, string To, string State, string? Reason, bool? Acknowledged);

/// <summary>Counts of a call's webhooks by status, and each one's delivery.</summary>
public sealed record WebhookSummary(int Delivered, int Pending, int Failed, IReadOnlyList<WebhookState> Deliveries);

/// <summary>The JSON shapes of the original API, extended: state names in lower case, ISO 8601 times, duration in seconds.</summary>
internal static class CallResponses
{
    /// <summary>A live call.</summary>
    public static CallView Call(CallSnapshot call) => WithResults(new(
        call.CallId, call.To, CallStateMachine.Name(call.State), call.Direction == "inbound" ? "inbound" : "announce", call.Reason, call.SipStatus, call.Detail, call.CallerId,
        call.CreatedAt, call.AnsweredAt, call.EndedAt, Seconds(call.Duration), call.Tag, call.Simulated)
    {
        Direction = call.Direction,
        Source = call.Source,
        Application = call.Application,
    }, CallResultsJson.Serialize(call.Results, withFiles: false));

    /// <summary>A stored call, in the same shape as a live one.</summary>
    public static CallView Call(Storage.CallRecord call) => WithResults(new(
        call.CallId, call.To, call.State, call.Mode, call.Reason, call.SipStatus, call.Detail, call.CallerId,
        call.CreatedAt, call.AnsweredAt, call.EndedAt, Seconds(call.Duration), call.Tag, call.Simulated)
    {
        Direction = call.Direction,
        Source = call.Source,
        Application = call.Application,
        Agent = call.Agent,
        Destination = call.Destination,
    }, call.ResultsJson);

    /// <summary>The results (<see cref="CallResultsJson"/>) on the view, with acknowledged and digits lifted to the top.</summary>
    private static CallView WithResults(CallView view, string? results)
    {
        if (results is null)
        {
            return view;
        }
        var json = WithoutFiles(JsonSerializer.Deserialize<JsonElement>(results));
        return view with
        {
            Acknowledged = json.TryGetProperty("acknowledged", out var acknowledged) ? acknowledged.GetBoolean() : null,
            Digits = json.GetProperty("digits").GetString(),
            Results = json,
        };
    }

    /// <summary>
    /// Stored results without their recordings' file names: a name is the secret part of the recording's upload URL, so
    /// it stays in the store (the call's <c>recordings</c> give the download URL instead).
    /// </summary>
    private static JsonElement WithoutFiles(JsonElement results)
    {
        if (!results.TryGetProperty("recordings", out var recordings) || !recordings.EnumerateArray().Any(r => r.TryGetProperty("file", out _)))
        {
            return results;
        }
        var node = System.Text.Json.Nodes.JsonNode.Parse(results.GetRawText())!;
        foreach (var recording in node["recordings"]!.AsArray())
        {
            recording!.AsObject().Remove("file");
        }
        return JsonSerializer.Deserialize<JsonElement>(node.ToJsonString());
    }

    /// <summary>The call with its webhooks (only on a single call: a list would cost a query per call).</summary>
    public static CallView WithWebhooks(CallView call, IReadOnlyList<WebhookState> webhooks) => webhooks.Count == 0 ? call : call with
    {
        Webhooks = new WebhookSummary(
            webhooks.Count(w => w.Status == "delivered"), webhooks.Count(w => w.Status == "pending"), webhooks.Count(w => w.Status == "failed"), webhooks),
    };

    /// <summary>The alert as stored, with its attempts.</summary>
    public static async Task<AlertView?> AlertAsync(Storage.ICallStore store, string alertId)
    {
        if (await store.AlertAsync(alertId) is not { } alert)
        {
            return null;
        }
        var attempts = await store.AttemptsAsync(alertId);
        return new AlertView(
            alert.AlertId, alert.Status,
            alert.Status == Storage.AlertStatus.Acknowledged ? alert.OutcomeNumber : null,
            alert.Status == Storage.AlertStatus.Answered ? alert.OutcomeNumber : null,
            alert.NextAttemptAt,
            [.. attempts.Select(a => new AttemptView(a.Attempt ?? 0, a.CallId, a.To, a.State, a.Reason, Call(a).Acknowledged))]);
    }

    private static int? Seconds(TimeSpan? duration) => duration is { } d ? (int)Math.Round(d.TotalSeconds) : null;
}

/// <summary>
/// A JSON value kept as its text (a call's tag: checked when the call was placed, stored as sent) and written as it
/// is. It is read through once, for its form and for the answer's depth limit, as the serializer checks what it writes
/// itself, but not parsed into a document again for every answer that shows it (each poll of the call did that).
/// </summary>
internal sealed class RawJson : JsonConverter<string>
{
    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var value = JsonDocument.ParseValue(ref reader);
        return value.RootElement.GetRawText();
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(value);
        var limit = (options.MaxDepth == 0 ? 64 : options.MaxDepth) - writer.CurrentDepth;
        var check = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = Math.Max(1, limit) });
        try
        {
            while (check.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            throw new JsonException($"A stored JSON value cannot be written here: {ex.Message}", ex);
        }
        writer.WriteRawValue(utf8, skipInputValidation: true);
    }
}
