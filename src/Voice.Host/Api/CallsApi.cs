using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FluentValidation;
using Microsoft.OpenApi;
using Voice.Control.Calls;
using Voice.Host.Storage;

namespace Voice.Host.Api;

/// <summary>The original voice-app's call API, unchanged for its clients (n8n, Home Assistant, curl), with VoiceBridge's extensions.</summary>
internal static class CallsApi
{
    /// <summary>The largest request body accepted; a 1000-character message with every option fits many times over.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    private static readonly JsonSerializerOptions Json = RequestBody.Json;

    public static IEndpointRouteBuilder MapCallsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api").WithTags("Calls")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status429TooManyRequests);
        api.MapPost("/outbound-call", PlaceAsync)
            .WithSummary("Place an announce call")
            .WithDescription("Queues the call and answers at once; follow it with GET /api/call/{callId} or webhooks. An Idempotency-Key header makes a retried POST return the same call.")
            // The body is described here, not with Accepts<T>(): that would make routing refuse other content types
            // with a bare 415 before the handler can answer with the API's error shape.
            .AddOpenApiOperationTransformer(async (operation, context, ct) =>
            {
                var schema = await context.GetOrCreateSchemaAsync(typeof(OutboundCallRequest), null, ct);
                schema.Required = new HashSet<string> { "to" };
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
                };
            })
            .Produces<PlacedView>()
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        // Every poll of every call comes here: the host's services are looked up once, not for each request (seven
        // lookups and a service scope per poll).
        var services = routes.ServiceProvider;
        var (calls, store, recorder, alerts) = (services.GetRequiredService<IOutboundCalls>(), services.GetRequiredService<ICallStore>(),
            services.GetRequiredService<CallRecorder>(), services.GetRequiredService<Alerts.AlertChains>());
        var (options, time, desk) = (services.GetRequiredService<Voice.Control.VoiceControlOptions>(), services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<Agents.AgentDesk>());
        api.MapGet("/call/{callId}", async (string callId) =>
        {
            var live = calls.Get(callId);
            var stored = live is null ? await store.GetAsync(callId) : null;
            if (live is null && stored is null && store.Clustered)
            {
                // A call for the cluster's queue that this host accepted while the database refused writes: it is kept, and
                // found once the writes before this one are through, not denied meanwhile.
                await recorder.WrittenAsync();
                stored = await store.GetAsync(callId);
            }
            var found = live is not null ? CallResponses.Call(live) : stored is not null ? CallResponses.Call(stored) : null;
            if (found is null)
            {
                return ApiErrors.NotFound(callId);
            }
            if (live is not null && desk.ClickToCallOf(callId) is { } clickToCall)
            {
                found = found with { Mode = "click-to-call", Agent = clickToCall.Agent, Destination = clickToCall.Destination };
            }
            found = CallResponses.WithWebhooks(found, await store.WebhooksAsync(callId));
            var recordings = live is not null ? RecordingFiles.Of(live.Results) : RecordingFiles.Of(stored!.ResultsJson);
            if (recordings.Count > 0)
            {
                found = found with { Recordings = RecordingsApi.Views(callId, recordings, options.Calls.Recording, found.EndedAt, time.GetUtcNow()) };
            }
            // A call still running belongs to an alert only if that alert is active (it ends after its last call):
            // the store is asked only about ended calls, not at every poll of a running one.
            var alertId = alerts.ActiveAlertOf(callId)
                ?? (live is null ? stored!.AlertId
                    : !CallStateMachine.IsFinal(live.State) ? null
                    : store.TryGetHeldAlert(callId, out var held) ? held
                    : (await store.GetAsync(callId))?.AlertId);
            if (alertId is not null)
            {
                // The alert's newest attempt may be in the recorder's next batch still.
                await recorder.WrittenAsync();
                found = found with { Alert = await CallResponses.AlertAsync(store, alertId) };
            }
            return JsonBody.Ok(found);
        })
            .WithSummary("A call: its state, timestamps, duration and webhook deliveries")
            .Produces<CallView>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/calls", ListAsync)
            .WithSummary("Active calls; with state, to, from, until, cursor or limit: the history, newest first")
            .Produces<CallHistoryView>().ProducesProblem(StatusCodes.Status400BadRequest);
        api.MapPost("/call/{callId}/hangup", async (string callId, IOutboundCalls calls, Alerts.AlertChains alerts, Cluster.ClusterMember cluster, ICallStore store,
            Webhooks.WebhookSender webhooks, TimeProvider time) =>
        {
            // A call of an active alert: the whole alert stops (no further attempt), and its running attempt hangs up.
            if (await alerts.StopAsync(callId) is { Stopped: true } stopped)
            {
                return JsonBody.Ok(new { success = true, message = "Alert stopped: no further attempt", callId, hungUp = stopped.Running });
            }
            var call = calls.Get(callId);
            if (call is null && cluster.Clustered)
            {
                return await HangupElsewhereAsync(callId, cluster, store, webhooks, time);
            }
            if (call is null)
            {
                return ApiErrors.NotFound(callId);
            }
            if (CallStateMachine.IsFinal(call.State))
            {
                return ApiErrors.Problem(StatusCodes.Status409Conflict, "call_ended", $"Call {callId} has already ended ({CallStateMachine.Name(call.State)})", "callId");
            }
            // The answer does not wait for the far end: CANCEL or BYE goes out and the call ends in the background.
            _ = calls.HangupAsync(callId);
            await Task.Yield();
            return JsonBody.Ok(new { success = true, message = "Call hangup initiated", callId });
        })
            .WithSummary("Hang a call up: CANCEL while it rings, BYE once answered")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return routes;
    }

    /// <summary>
    /// A hang-up for a call this host does not run, in a cluster: a call still in the queue ends here, one another host
    /// runs is hung up by that host (told through the database), one that has ended cannot be.
    /// </summary>
    private static async Task<IResult> HangupElsewhereAsync(string callId, Cluster.ClusterMember cluster, ICallStore store, Webhooks.WebhookSender webhooks, TimeProvider time)
    {
        if (await store.GetAsync(callId) is not { } stored)
        {
            return ApiErrors.NotFound(callId);
        }
        if (stored.State is "completed" or "failed")
        {
            return ApiErrors.Problem(StatusCodes.Status409Conflict, "call_ended", $"Call {callId} has already ended ({stored.State})", "callId");
        }
        if (stored.HostId is null && await store.CancelQueuedAsync(callId, time.GetUtcNow()) is { } canceled)
        {
            webhooks.Enqueue(canceled);
            return JsonBody.Ok(new { success = true, message = "Call canceled before it started", callId });
        }
        if (stored.HostId == cluster.HostId && await cluster.HangupHereAsync(callId))
        {
            return JsonBody.Ok(new { success = true, message = "Call hangup initiated", callId });
        }
        // Claimed meanwhile, or running on another host: the host that runs it hangs it up.
        await store.NotifyAsync(ClusterChannels.HangupChannel, callId);
        return JsonBody.Ok(new { success = true, message = "Call hangup sent to the host running it", callId, host = stored.HostId });
    }

    private static async Task<IResult> PlaceAsync(
        HttpContext context, CallManager calls, IValidator<OutboundCallRequest> validator, ICallStore store, CallRecorder recorder, Voice.Control.VoiceControlOptions options,
        Alerts.AlertChains alerts, Cluster.ClusterMember cluster)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return ApiErrors.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large", $"The request body is larger than {MaxBodyBytes / 1024} KB");
        }
        if (RequestBody.ContentTypeProblem(context.Request.ContentType) is { } unsupported)
        {
            return ApiErrors.Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", unsupported);
        }
        var (read, problem) = await RequestBody.ReadAsync<OutboundCallRequest>(context, MaxBodyBytes);
        if (read is not { } request)
        {
            return problem!;
        }
        return await PlaceRequestAsync(context, request, calls, validator, store, recorder, options, alerts, cluster: cluster);
    }

    /// <summary>
    /// Places a read request: validation, the idempotency key, the store, the call. <paramref name="decorate"/> adds to the
    /// stored call what the request does not say (click-to-call's agent); <paramref name="placed"/> learns the call's id
    /// before the call can start, and <paramref name="refused"/> that it was not placed after all.
    /// </summary>
    /// <remarks>
    /// In a cluster (<paramref name="cluster"/> on PostgreSQL) a plain call goes to the cluster's queue, checked but not
    /// placed here: whichever host has room claims it. An alert's calls and click-to-call are placed by the host that
    /// took the POST, which follows them.
    /// </remarks>
    internal static async Task<IResult> PlaceRequestAsync(
        HttpContext context, OutboundCallRequest request, CallManager calls, IValidator<OutboundCallRequest> validator, ICallStore store, CallRecorder recorder,
        Voice.Control.VoiceControlOptions options, Alerts.AlertChains alerts,
        Func<CallRecord, CallRecord>? decorate = null, Action<string>? placed = null, Action<string>? refused = null, Cluster.ClusterMember? cluster = null)
    {
        // Synchronous, as every rule is (FluentValidation would refuse an async rule here, and the API tests would say so):
        // its async path adds a state machine and a task per rule to every POST (1.5 % of the host's CPU per call in `perf`).
        var validation = validator.Validate(request);
        if (!validation.IsValid)
        {
            return ApiErrors.Validation(validation.Errors
                .GroupBy(e => char.ToLowerInvariant(e.PropertyName[0]) + e.PropertyName[1..])
                .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).ToArray()));
        }
        var key = context.Request.Headers["Idempotency-Key"].ToString();
        if (key.Length > 255 || key.Any(char.IsControl))
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", "Idempotency-Key: must be at most 255 characters without control characters", "Idempotency-Key");
        }
        if (recorder.Failing)
        {
            // Accepted calls are kept until the database takes them; new ones are not taken into memory alone.
            context.Response.Headers.RetryAfter = "5";
            return ApiErrors.Problem(StatusCodes.Status503ServiceUnavailable, "database_unavailable", "The database does not take writes at the moment; send the call again shortly");
        }
        var callId = CallIds.New();
        var requestJson = JsonSerializer.Serialize(request, Json);
        // Only a retried request needs comparing with the first: no hash without a key.
        var hash = key.Length == 0 ? null : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(requestJson)));
        var idempotencyKey = key.Length == 0 ? null : key;
        var existing = idempotencyKey is null ? null : await store.ReserveKeyAsync(idempotencyKey, callId, hash);
        if (existing is { } earlier)
        {
            // A retried POST: the same call, never a second one.
            if (earlier.RequestHash != hash)
            {
                return ApiErrors.Problem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused",
                    "Idempotency-Key: this key was used for a different request", "Idempotency-Key");
            }
            context.Response.Headers["Idempotent-Replayed"] = "true";
            var state = calls.Get(earlier.CallId) is { } live ? CallStateMachine.Name(live.State) : (await store.GetAsync(earlier.CallId))?.State ?? "queued";
            return JsonBody.Ok(new PlacedView(earlier.CallId, state, calls.IsSimulated));
        }
        var callRequest = request.ToCallRequest();
        var to = Voice.Control.Phone.PhoneNumber.Parse(request.To!, options.Calls.Numbers).Value;
        var alert = request.IsAlert ? alerts.NewAlert(callId, request, to, requestJson, DateTimeOffset.UtcNow) : null;
        // Written by the recorder's next batch, before the call's first state change: the answer does not wait for the disk.
        var record = request.ToRecord(callId, to, callRequest, requestJson, calls.IsSimulated, DateTimeOffset.UtcNow) with
        {
            AlertId = alert?.AlertId,
            Attempt = alert is null ? null : 1,
        };
        record = decorate?.Invoke(record) ?? record;
        var queue = cluster is { Clustered: true } && alert is null && placed is null;
        if (queue && QueueRefusal(calls, callRequest, options, cluster!) is { } refusal)
        {
            if (idempotencyKey is not null)
            {
                store.ReleaseKey(idempotencyKey, callId);
            }
            return Refused(context, refusal);
        }
        if (!recorder.Accept(new NewCall(record, idempotencyKey, hash) { Alert = alert, Queued = queue }))
        {
            if (idempotencyKey is not null)
            {
                store.ReleaseKey(idempotencyKey, callId);
            }
            return ApiErrors.Problem(StatusCodes.Status503ServiceUnavailable, "shutting_down", "VoiceBridge is stopping; send the call again once it is back");
        }
        if (queue)
        {
            // Answered once written: the call is then the cluster's, found by every host, and kept should this one die.
            await recorder.WrittenAsync();
            return JsonBody.Ok(new PlacedView(callId, "queued", calls.IsSimulated));
        }
        try
        {
            if (alert is not null)
            {
                alerts.Starting(alert, callId);
            }
            placed?.Invoke(callId);
            var call = calls.Place(callRequest, callId);
            return JsonBody.Ok(new PlacedView(call.CallId, "queued", call.Simulated));
        }
        catch (Exception ex) when (ex is CallRequestException or CallQueueFullException)
        {
            refused?.Invoke(callId);
            alerts.Abandon(callId);
            // Answered once the withdrawal is written, so a retry with the same key is a new attempt.
            await recorder.WithdrawAsync(callId);
            return Refused(context, ex);
        }
    }

    /// <summary>Why a call cannot join the cluster's queue (its request, or a full queue), or null.</summary>
    private static Exception? QueueRefusal(CallManager calls, CallRequest request, Voice.Control.VoiceControlOptions options, Cluster.ClusterMember cluster)
    {
        try
        {
            calls.Check(request);
        }
        catch (CallRequestException ex)
        {
            return ex;
        }
        var max = options.Calls.MaxQueuedCalls;
        return cluster.Queued >= max ? new CallQueueFullException(max, TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(max / options.Calls.CallsPerSecond)))) : null;
    }

    private static IResult Refused(HttpContext context, Exception exception)
    {
        switch (exception)
        {
            case CallRequestException { Code: CallReasons.DestinationDenied } denied:
                return ApiErrors.Problem(StatusCodes.Status403Forbidden, CallReasons.DestinationDenied, $"{denied.Field}: {denied.Reason}", denied.Field);
            case CallRequestException invalid:
                return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", $"{invalid.Field}: {invalid.Reason}", invalid.Field);
            default:
                var full = (CallQueueFullException)exception;
                return ApiErrors.TooManyRequests(context, full.RetryAfter, "queue_full", _ => full.Message);
        }
    }

    /// <summary>
    /// Without query parameters, the active calls as in the original. With any of state, to, from, until,
    /// cursor or limit: the history, newest first, one page at a time.
    /// </summary>
    private static async Task<IResult> ListAsync(HttpContext context, IOutboundCalls calls, ICallStore store, CallRecorder recorder, Voice.Control.VoiceControlOptions options)
    {
        var query = context.Request.Query;
        if (query.Count == 0)
        {
            if (store.Clustered)
            {
                // Every host's, from the database: the calls running here are newer in memory, so they are shown from there.
                await recorder.WrittenAsync();
                var local = calls.Active.ToDictionary(c => c.CallId, StringComparer.Ordinal);
                var all = (await store.ActiveAsync()).Select(c => local.TryGetValue(c.CallId, out var live) ? CallResponses.Call(live) : CallResponses.Call(c));
                return JsonBody.Ok(new CallListView([.. all]));
            }
            var active = calls.Active;
            return JsonBody.Ok(new CallListView([.. active.Select(CallResponses.Call)]));
        }
        var limit = 50;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, out limit) || limit is < 1 or > 500))
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", "limit: must be a whole number between 1 and 500", "limit");
        }
        var state = query["state"].ToString();
        if (state.Length > 0 && state is not ("queued" or "dialing" or "ringing" or "playing" or "completed" or "failed"))
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", "state: must be queued, dialing, ringing, playing, completed or failed", "state");
        }
        DateTimeOffset? from = null, until = null;
        foreach (var (name, set) in new (string, Action<DateTimeOffset>)[] { ("from", v => from = v), ("until", v => until = v) })
        {
            if (query[name].ToString() is { Length: > 0 } text)
            {
                if (!DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed))
                {
                    return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", $"{name}: must be an ISO 8601 time, e.g. 2026-11-22T08:00:00Z", name);
                }
                set(parsed);
            }
        }
        string? to = null;
        if (query["to"].ToString() is { Length: > 0 } toText)
        {
            if (!Voice.Control.Phone.PhoneNumber.TryParse(toText, options.Calls.Numbers, out var number, out var error))
            {
                return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", $"to: {error}", "to");
            }
            to = number.Value;
        }
        var cursor = query["cursor"].ToString();
        try
        {
            await recorder.WrittenAsync();
            var page = await store.QueryAsync(new CallQuery { State = state.Length > 0 ? state : null, To = to, From = from, Until = until, Cursor = cursor.Length > 0 ? cursor : null, Limit = limit });
            return JsonBody.Ok(new CallHistoryView([.. page.Calls.Select(CallResponses.Call)], page.Next));
        }
        catch (FormatException ex)
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", "cursor: " + ex.Message, "cursor");
        }
    }
}
