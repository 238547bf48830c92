namespace Voice.Control.Calls;

/// <summary>What one <c>gather</c> (or one try of it) collected.</summary>
/// <param name="Verb">Where in the script: <c>verbs[1]</c>, or <c>answers[0].verbs[2]</c> for a verb of the first hook answer that replaced the script.</param>
/// <param name="Try">1 for the first try, then one more per repeated prompt.</param>
/// <param name="Digits">The keys pressed, the finishing key excluded; empty when none came.</param>
/// <param name="Reason"><see cref="GatherReasons"/>: dtmfDetected, timeout, or hangup.</param>
public sealed record GatherResult(string Verb, int Try, string Digits, string Reason);

/// <summary>One call to an <c>actionHook</c> and what came of it.</summary>
/// <param name="Verb">The verb that called it: <c>gather</c> or <c>redirect</c>.</param>
/// <param name="Url">Where it was POSTed.</param>
/// <param name="Status">The HTTP status, when an answer came.</param>
/// <param name="Outcome"><see cref="HookOutcomes"/>: replaced (its verbs replaced the rest of the script), continued (an empty answer), or failed.</param>
/// <param name="Detail">Why it failed: the status, the time limit, the first problem with its answer.</param>
/// <param name="Elapsed">From the request to the answer (or the failure).</param>
public sealed record HookResult(string Verb, string Url, int? Status, string Outcome, string? Detail, TimeSpan Elapsed);

/// <summary>One recording of the call (a <c>record</c> verb's start, or the request's <c>record</c>).</summary>
/// <param name="Part">1 for the first recording of the call, then one more per start.</param>
/// <param name="File">The file's name in the recording directory; null when none was made (recording not configured).</param>
/// <param name="Stereo">The far end on the left channel and what VoiceBridge plays on the right; false: both mixed into one.</param>
/// <param name="Status"><see cref="RecordingStatuses"/>: recording, recorded (FreeSWITCH has finished, or is finishing, the file), or failed.</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="StoppedAt">When it was stopped (a <c>record</c> stop, or the call's end).</param>
/// <param name="Detail">Why it failed.</param>
public sealed record RecordingResult(int Part, string? File, bool Stereo, string Status, DateTimeOffset StartedAt, DateTimeOffset? StoppedAt, string? Detail);

/// <summary>One target of a <c>dial</c> and what came of it.</summary>
/// <param name="Verb">Where in the script: <c>verbs[2]</c>.</param>
/// <param name="Target">The number or extension as the script gave it.</param>
/// <param name="Outcome"><c>answered</c> (bridged to the call), or why not: a call reason (<c>busy</c>, <c>no_answer</c>,
/// <c>rejected</c>, <c>canceled</c> when another target answered first or the call ended, <c>destination_denied</c>, <c>media_error</c>…).</param>
/// <param name="SipStatus">The target's final SIP status, when it sent one.</param>
/// <param name="AnsweredAt">When it answered.</param>
/// <param name="EndedAt">When its leg ended.</param>
/// <param name="EndedBy">For an answered target, who ended the bridge: <c>callee</c> (this target hung up), <c>caller</c> (the call's far end did), or <c>call</c> (the API, the maximum duration, a media failure).</param>
/// <param name="Detail">More about a failure.</param>
public sealed record DialResult(string Verb, string Target, string Outcome, int? SipStatus, DateTimeOffset? AnsweredAt, DateTimeOffset? EndedAt, string? EndedBy, string? Detail);

/// <summary>Where a recording is.</summary>
public static class RecordingStatuses
{
    public const string Recording = "recording";

    /// <summary>Stopped: the file is complete (or on its way, when FreeSWITCH uploads it).</summary>
    public const string Recorded = "recorded";

    /// <summary>It could not be started or stopped cleanly; the call went on without it.</summary>
    public const string Failed = "failed";
}

/// <summary>What came of a hook call.</summary>
public static class HookOutcomes
{
    /// <summary>The answer was a verb list: it replaced the rest of the script.</summary>
    public const string Replaced = "replaced";

    /// <summary>An empty answer: the script went on.</summary>
    public const string Continued = "continued";

    /// <summary>No usable answer (an error status, the time limit, not a verb list): the fallback was said and the script went on.</summary>
    public const string Failed = "failed";
}

/// <summary>
/// What a call's script found out, so far or in the end: keys gathered, whether the alert was acknowledged, digits
/// sent, hooks called. Immutable: each change makes a new one, so a state change can carry the one it was made with.
/// </summary>
public sealed record CallResults
{
    public static CallResults None { get; } = new();

    /// <summary>Every gather (and every try of one), in order.</summary>
    public IReadOnlyList<GatherResult> Gathers { get; init; } = [];

    /// <summary>All keys gathered, in order, as one string (<c>"21"</c>: 2 to repeat, then 1 to acknowledge).</summary>
    public string Digits { get; init; } = string.Empty;

    /// <summary>For a call with <see cref="CallRequest.Acknowledge"/>: whether the callee pressed the digit; null for other calls, and until the call knows.</summary>
    public bool? Acknowledged { get; init; }

    /// <summary>Every <c>dtmf</c> sent to the callee, in order.</summary>
    public IReadOnlyList<string> DigitsSent { get; init; } = [];

    /// <summary>Every hook called, in order.</summary>
    public IReadOnlyList<HookResult> Hooks { get; init; } = [];

    /// <summary>Every target of every <c>dial</c>, in the order they ended.</summary>
    public IReadOnlyList<DialResult> Dials { get; init; } = [];

    /// <summary>Every recording, in the order they started.</summary>
    public IReadOnlyList<RecordingResult> Recordings { get; init; } = [];

    /// <summary>True when nothing has been found out (a plain announce call).</summary>
    public bool IsEmpty => Gathers.Count == 0 && Acknowledged is null && DigitsSent.Count == 0 && Hooks.Count == 0 && Recordings.Count == 0 && Dials.Count == 0;

    public CallResults With(GatherResult gather) => this with { Gathers = [.. Gathers, gather], Digits = Digits + gather.Digits };

    public CallResults WithSent(string digits) => this with { DigitsSent = [.. DigitsSent, digits] };

    public CallResults With(HookResult hook) => this with { Hooks = [.. Hooks, hook] };

    public CallResults With(DialResult dial) => this with { Dials = [.. Dials, dial] };

    /// <summary>Adds a recording, or replaces the one of the same part.</summary>
    public CallResults With(RecordingResult recording) => this with
    {
        Recordings = Recordings.Any(r => r.Part == recording.Part)
            ? [.. Recordings.Select(r => r.Part == recording.Part ? recording : r)]
            : [.. Recordings, recording],
    };
}

/// <summary>
/// The JSON form of <see cref="CallResults"/>, as the REST API, webhooks and the history show it:
/// <c>{"acknowledged":true,"digits":"21","gathers":[{"verb":"verbs[0]","try":1,"digits":"2","reason":"dtmfDetected"}],
/// "digitsSent":["12"],"hooks":[{"verb":"gather","url":…,"status":200,"outcome":"replaced","detail":null,"ms":35}],
/// "dials":[{"verb":"verbs[1]","target":"101","outcome":"answered","sipStatus":200,"answeredAt":…,"endedAt":…,"endedBy":"callee","detail":null}],
/// "recordings":[{"part":1,"file":"….wav","mixType":"stereo","status":"recorded","startedAt":…,"stoppedAt":…,"detail":null}]}</c>
/// (<c>acknowledged</c> only for calls that asked for it, <c>dials</c> and <c>recordings</c> only for calls that dialled or recorded).
/// </summary>
public static class CallResultsJson
{
    /// <summary>
    /// The results as one JSON object; null when there are none (a plain announce call). <paramref name="withFiles"/>:
    /// each recording's file name, which is also the secret part of its upload URL: kept in the store, never shown.
    /// </summary>
    public static string? Serialize(CallResults results, bool withFiles = true)
    {
        if (results.IsEmpty)
        {
            return null;
        }
        return Net.JsonText.Write((results, withFiles), static (json, state) => Write(json, state.results, state.withFiles));
    }

    public static void Write(System.Text.Json.Utf8JsonWriter json, CallResults results, bool withFiles = true)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(results);
        json.WriteStartObject();
        if (results.Acknowledged is { } acknowledged)
        {
            json.WriteBoolean("acknowledged", acknowledged);
        }
        json.WriteString("digits", results.Digits);
        json.WriteStartArray("gathers");
        foreach (var gather in results.Gathers)
        {
            json.WriteStartObject();
            json.WriteString("verb", gather.Verb);
            json.WriteNumber("try", gather.Try);
            json.WriteString("digits", gather.Digits);
            json.WriteString("reason", gather.Reason);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("digitsSent");
        foreach (var sent in results.DigitsSent)
        {
            json.WriteStringValue(sent);
        }
        json.WriteEndArray();
        json.WriteStartArray("hooks");
        foreach (var hook in results.Hooks)
        {
            json.WriteStartObject();
            json.WriteString("verb", hook.Verb);
            json.WriteString("url", hook.Url);
            WriteNumber(json, "status", hook.Status);
            json.WriteString("outcome", hook.Outcome);
            json.WriteString("detail", hook.Detail);
            json.WriteNumber("ms", (long)hook.Elapsed.TotalMilliseconds);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (results.Dials.Count > 0)
        {
            json.WriteStartArray("dials");
            foreach (var dial in results.Dials)
            {
                json.WriteStartObject();
                json.WriteString("verb", dial.Verb);
                json.WriteString("target", dial.Target);
                json.WriteString("outcome", dial.Outcome);
                WriteNumber(json, "sipStatus", dial.SipStatus);
                WriteTime(json, "answeredAt", dial.AnsweredAt);
                WriteTime(json, "endedAt", dial.EndedAt);
                json.WriteString("endedBy", dial.EndedBy);
                json.WriteString("detail", dial.Detail);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        if (results.Recordings.Count > 0)
        {
            json.WriteStartArray("recordings");
            foreach (var recording in results.Recordings)
            {
                json.WriteStartObject();
                json.WriteNumber("part", recording.Part);
                if (withFiles)
                {
                    json.WriteString("file", recording.File);
                }
                json.WriteString("mixType", recording.Stereo ? "stereo" : "mixed");
                json.WriteString("status", recording.Status);
                json.WriteString("startedAt", recording.StartedAt);
                WriteTime(json, "stoppedAt", recording.StoppedAt);
                json.WriteString("detail", recording.Detail);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }

    private static void WriteNumber(System.Text.Json.Utf8JsonWriter json, string name, int? number)
    {
        if (number is { } value)
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteTime(System.Text.Json.Utf8JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } value)
        {
            json.WriteString(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
