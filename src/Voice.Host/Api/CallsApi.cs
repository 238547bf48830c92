using System.Text.Json;
using FluentValidation;
using Voice.Control.Calls;

namespace Voice.Host.Api;

/// <summary>The original voice-app's call API, unchanged for its clients (n8n, Home Assistant, curl), with VoiceBridge's extensions.</summary>
internal static class CallsApi
{
    /// <summary>The largest request body accepted; a 1000-character message with every option fits many times over.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapCallsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api");
        api.MapPost("/outbound-call", PlaceAsync);
        api.MapGet("/call/{callId}", (string callId, IOutboundCalls calls) =>
            calls.Get(callId) is { } call ? Results.Ok(CallResponses.Call(call)) : ApiErrors.NotFound(callId));
        api.MapGet("/calls", (IOutboundCalls calls) =>
        {
            var active = calls.Active;
            return Results.Ok(new { success = true, count = active.Count, calls = active.Select(c => CallResponses.Call(c)) });
        });
        api.MapPost("/call/{callId}/hangup", async (string callId, IOutboundCalls calls) =>
        {
            var call = calls.Get(callId);
            if (call is null)
            {
                return ApiErrors.NotFound(callId);
            }
            if (CallStateMachine.IsFinal(call.State))
            {
                return ApiErrors.Problem(StatusCodes.Status409Conflict, "call_ended", $"Call {callId} has already ended ({CallResponses.State(call.State)})", "callId");
            }
            // The answer does not wait for the far end: CANCEL or BYE goes out and the call ends in the background.
            _ = calls.HangupAsync(callId);
            await Task.Yield();
            return Results.Ok(new { success = true, message = "Call hangup initiated", callId });
        });
        return routes;
    }

    private static async Task<IResult> PlaceAsync(HttpContext context, IOutboundCalls calls, IValidator<OutboundCallRequest> validator)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return ApiErrors.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large", $"The request body is larger than {MaxBodyBytes / 1024} KB");
        }
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return ApiErrors.Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Send the request as application/json");
        }
        OutboundCallRequest? request;
        try
        {
            using var body = new LimitedStream(context.Request.Body, MaxBodyBytes);
            request = await JsonSerializer.DeserializeAsync<OutboundCallRequest>(body, Json, context.RequestAborted);
        }
        catch (JsonException ex)
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "malformed_json", $"The body is not valid JSON for this request: {ex.Message}", ex.Path?.TrimStart('$', '.'));
        }
        catch (LimitedStream.TooLargeException)
        {
            return ApiErrors.Problem(StatusCodes.Status413PayloadTooLarge, "body_too_large", $"The request body is larger than {MaxBodyBytes / 1024} KB");
        }
        if (request is null)
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "malformed_json", "The body must be a JSON object");
        }
        var validation = await validator.ValidateAsync(request, context.RequestAborted);
        if (!validation.IsValid)
        {
            return ApiErrors.Validation(validation.Errors
                .GroupBy(e => char.ToLowerInvariant(e.PropertyName[0]) + e.PropertyName[1..])
                .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).ToArray()));
        }
        try
        {
            var call = calls.Place(new CallRequest
            {
                To = request.To!,
                Message = request.Message!,
                CallerId = request.CallerId,
                RingTimeout = request.TimeoutSeconds is { } ring ? TimeSpan.FromSeconds(ring) : null,
                Voice = request.Voice,
                Repeat = request.Repeat ?? 1,
                MaxDuration = request.MaxDurationSeconds is { } max ? TimeSpan.FromSeconds(max) : null,
                Headers = request.Headers,
                Tag = request.Tag?.GetRawText(),
            });
            return Results.Ok(new { success = true, callId = call.CallId, status = "queued", message = "Call initiated", simulated = call.Simulated });
        }
        catch (CallRequestException ex) when (ex.Code == CallReasons.DestinationDenied)
        {
            return ApiErrors.Problem(StatusCodes.Status403Forbidden, CallReasons.DestinationDenied, $"{ex.Field}: {ex.Reason}", ex.Field);
        }
        catch (CallRequestException ex)
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", $"{ex.Field}: {ex.Reason}", ex.Field);
        }
        catch (CallQueueFullException ex)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(ex.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiErrors.Problem(StatusCodes.Status429TooManyRequests, "queue_full", ex.Message);
        }
    }
}
