using System.Text.Json;
using FluentValidation;
using Voice.Control;
using Voice.Control.Calls;
using Voice.Control.Phone;
using Voice.Host.Agents;
using Voice.Host.Storage;

namespace Voice.Host.Api;

/// <summary>The body of <c>POST /api/click-to-call</c>.</summary>
public sealed class ClickToCallRequest
{
    /// <summary>The agent's extension: rung first, with the destination as its caller ID.</summary>
    public string? Agent { get; set; }

    /// <summary>The number the agent is connected to once they answer.</summary>
    public string? To { get; set; }

    /// <summary>Record both parties (the agent left, the destination right).</summary>
    public bool? Record { get; set; }

    public JsonElement? Tag { get; set; }

    /// <summary>What the destination sees; default DEFAULT_CALLER_ID.</summary>
    public string? CallerId { get; set; }

    /// <summary>How long each side rings, 5–120 s (default 30).</summary>
    public int? TimeoutSeconds { get; set; }

    public string? WebhookUrl { get; set; }
}

/// <summary>
/// Click-to-call (the outbound-calling guide's flow): the agent's phone rings first, showing the number it will call;
/// once answered it hears whom it is calling and ringback, the destination is dialled and the two are bridged. One call
/// record holds both legs (<c>results.dials</c>) and the recording. <c>GET /api/agents</c> shows who is free.
/// </summary>
internal static class ClickToCallApi
{
    public static IEndpointRouteBuilder MapClickToCallApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api").WithTags("Click-to-call")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status429TooManyRequests);
        api.MapPost("/click-to-call", PlaceAsync)
            .WithSummary("Ring an agent, then connect them to a number")
            .Produces<PlacedView>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict);
        api.MapGet("/agents", ListAsync)
            .WithSummary("Agents: who is free, who is in which call, and today's click-to-calls");
        return routes;
    }

    private static async Task<IResult> PlaceAsync(
        HttpContext context, AgentDesk desk, CallManager calls, IValidator<OutboundCallRequest> validator, ICallStore store, CallRecorder recorder,
        VoiceControlOptions options, Alerts.AlertChains alerts, TimeProvider time)
    {
        if (RequestBody.ContentTypeProblem(context.Request.ContentType) is { } unsupported)
        {
            return ApiErrors.Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", unsupported);
        }
        var (read, problem) = await RequestBody.ReadAsync<ClickToCallRequest>(context, CallsApi.MaxBodyBytes);
        if (read is not { } request)
        {
            return problem!;
        }
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        PhoneNumber? agentNumber = null;
        if (string.IsNullOrWhiteSpace(request.Agent))
        {
            errors["agent"] = ["is required: the agent's extension"];
        }
        else if (request.Agent.Length > 32 || !PhoneNumber.TryParse(request.Agent, options.Calls.Numbers, out agentNumber, out var agentError))
        {
            errors["agent"] = ["must be an extension or number the PBX rings, at most 32 characters"];
        }
        PhoneNumber? destination = null;
        if (string.IsNullOrWhiteSpace(request.To))
        {
            errors["to"] = ["is required: the number to connect the agent to"];
        }
        else if (!PhoneNumber.TryParse(request.To, options.Calls.Numbers, out destination, out var toError))
        {
            errors["to"] = [toError];
        }
        if (request.TimeoutSeconds is < 5 or > 120)
        {
            errors["timeoutSeconds"] = ["must be between 5 and 120 seconds"];
        }
        if (errors.Count > 0)
        {
            return ApiErrors.Validation(errors);
        }
        if (options.Calls.Policy.Check(destination!) is { } denied)
        {
            return ApiErrors.Problem(StatusCodes.Status403Forbidden, CallReasons.DestinationDenied, $"to: {denied}", "to");
        }
        var agent = request.Agent!.Trim();
        var (taken, busyWith, token) = desk.TryReserve(agent);
        if (!taken)
        {
            return ApiErrors.Problem(StatusCodes.Status409Conflict, "agent_busy",
                $"Agent {agent} is in a call{(busyWith is { } call && !call.StartsWith("reserving:", StringComparison.Ordinal) ? $" ({call})" : string.Empty)}", "agent");
        }
        var placed = false;
        try
        {
            await store.EnsureAgentAsync(agent, desk.NameOf(agent), time.GetUtcNow());
            var callRequest = Request(request, agent, destination!);
            return await CallsApi.PlaceRequestAsync(context, callRequest, calls, validator, store, recorder, options, alerts,
                record => record with { Mode = "click-to-call", Agent = agent, Destination = destination!.Value },
                callId =>
                {
                    placed = true;
                    desk.Placed(agent, destination!.Value, token, callId);
                },
                callId =>
                {
                    placed = false;
                    desk.Release(agent, callId);
                });
        }
        finally
        {
            if (!placed)
            {
                desk.Release(agent, token);
            }
        }
    }

    /// <summary>
    /// The call it becomes: to the agent, showing the destination; the agent hears whom they are calling, the destination
    /// is dialled (ringback meanwhile) and bridged; if it is not reached, the agent is told so.
    /// </summary>
    private static OutboundCallRequest Request(ClickToCallRequest request, string agent, PhoneNumber destination)
    {
        var verbs = JsonSerializer.SerializeToElement(new object[]
        {
            new { verb = "say", text = $"Calling {Spoken(destination.Value)}." },
            new
            {
                verb = "dial",
                timeout = request.TimeoutSeconds ?? 30,
                callerId = request.CallerId,
                target = new[] { new { type = "phone", number = destination.Value } },
            },
            new { verb = "say", text = "The call could not be connected. Goodbye." },
        }, RequestBody.Json);
        return new OutboundCallRequest
        {
            To = agent,
            CallerId = destination.Value,
            Verbs = verbs,
            Record = request.Record,
            Tag = request.Tag,
            TimeoutSeconds = request.TimeoutSeconds,
            WebhookUrl = request.WebhookUrl,
        };
    }

    /// <summary>A number as TTS should say it: digit by digit, in groups (<c>+15551234567</c> → "plus 1, 5 5 5, 1 2 3, 4 5 6 7").</summary>
    internal static string Spoken(string number)
    {
        var digits = new string([.. number.Where(char.IsAsciiDigit)]);
        var groups = new List<string>();
        for (var end = digits.Length; end > 0; end -= end == digits.Length && digits.Length > 4 ? 4 : 3)
        {
            var size = end == digits.Length && digits.Length > 4 ? 4 : 3;
            groups.Insert(0, string.Join(' ', digits[Math.Max(0, end - size)..end].ToCharArray()));
        }
        return (number.StartsWith('+') ? "plus " : string.Empty) + string.Join(", ", groups);
    }

    private static async Task<IResult> ListAsync(string? tz, AgentDesk desk, ICallStore store, CallRecorder recorder, TimeProvider time)
    {
        if (!TimeZones.TryFind(tz, out var zone, out var badZone))
        {
            return badZone!;
        }
        await recorder.WrittenAsync();
        var today = StatsApi.Periods(time.GetUtcNow(), zone).Today;
        var counts = await store.AgentCallsSinceAsync(today);
        var stored = await store.AgentsAsync();
        var agents = desk.Configured.Select(a => (a.Extension, a.Name))
            .Concat(stored.Where(s => desk.Configured.All(c => c.Extension != s.Extension)).Select(s => (s.Extension, s.Name)))
            .OrderBy(a => a.Extension, StringComparer.Ordinal)
            .Select(a =>
            {
                var call = desk.CallOf(a.Extension);
                var count = counts.GetValueOrDefault(a.Extension);
                return new AgentView(a.Extension, a.Name, call is null, call is { } id && !id.StartsWith("reserving:", StringComparison.Ordinal) ? id : null,
                    new AgentDay(count.Calls, count.Connected));
            })
            .ToList();
        return JsonBody.Ok(new { success = true, timeZone = zone.Id, count = agents.Count, agents });
    }
}

/// <summary>An agent's availability and day.</summary>
public sealed record AgentView(string Extension, string? Name, bool Available, string? CallId, AgentDay Today);

/// <summary>Click-to-calls today: placed, and connected to their destination.</summary>
public sealed record AgentDay(int Calls, int Connected);
