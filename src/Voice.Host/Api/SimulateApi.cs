using System.Text.Json;
using Voice.Control.Calls;
using Voice.Control.Scripts;
using Voice.Control.Simulation;

namespace Voice.Host.Api;

/// <summary>The body of <c>POST /api/simulate/inbound</c>: a simulated caller calling an application.</summary>
public sealed class SimulatedInboundRequest
{
    /// <summary>The caller: a number or SIP user; the magic numbers press keys (<c>+15005551ABC</c>) or hang up (<c>+15005550005</c>).</summary>
    public string? From { get; set; }

    /// <summary>The number or user called (default <c>voicebridge</c>).</summary>
    public string? To { get; set; }

    /// <summary>The application that answers (default <c>default</c>).</summary>
    public string? Application { get; set; }

    /// <summary>A script to run instead of an application (as a dialplan's inline script would).</summary>
    public JsonElement? Verbs { get; set; }
}

/// <summary>
/// <c>POST /api/simulate/inbound</c>, on the simulated backend only: a call comes in and runs its application, as a
/// call handed over by a FreeSWITCH dialplan or an INVITE would, so an application can be tried without a phone.
/// </summary>
internal static class SimulateApi
{
    public static IEndpointRouteBuilder MapSimulateApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/simulate/inbound", async (HttpContext context, CallManager calls, ICallBackend backend) =>
        {
            if (backend is not SimulatedBackend simulated)
            {
                return ApiErrors.Problem(StatusCodes.Status404NotFound, "not_simulated", "Calls can be simulated only on the simulated backend (no DRACHTIO_HOST configured)");
            }
            var (read, problem) = await RequestBody.ReadAsync<SimulatedInboundRequest>(context, CallsApi.MaxBodyBytes);
            if (read is not { } request)
            {
                return problem!;
            }
            var errors = new Dictionary<string, string[]>();
            if (request.From is not { } from || !CallFieldRules.IsCallerId(from))
            {
                errors["from"] = ["is required and " + CallFieldRules.CallerIdRule];
            }
            if (request.To is { } to && !CallFieldRules.IsCallerId(to))
            {
                errors["to"] = [CallFieldRules.CallerIdRule];
            }
            if (request.Application is { } name && !CallFieldRules.IsApplicationName(name))
            {
                errors["application"] = ["must be an application's name: 1–64 letters, digits, _ or -"];
            }
            CallScript? script = null;
            if (request.Verbs is { } verbs && !CallScript.TryParse(verbs, out script, out var problems))
            {
                foreach (var found in problems.GroupBy(p => p.Path))
                {
                    errors[found.Key] = [.. found.Select(p => p.Reason)];
                }
            }
            if (request.Verbs is not null && request.Application is not null)
            {
                errors["verbs"] = ["goes without application: the verbs are what the call runs"];
            }
            if (errors.Count > 0)
            {
                return ApiErrors.Validation(errors);
            }
            var call = calls.Accept(new InboundCallInfo
            {
                From = request.From!,
                To = request.To ?? "voicebridge",
                Source = "simulated",
                Application = request.Application,
                Script = script,
            }, simulated.CallIn(request.From!));
            return JsonBody.Ok(new { success = true, callId = call.CallId, status = CallStateMachine.Name(call.State), simulated = true });
        })
            .WithTags("Simulation")
            .WithSummary("Simulate a call coming in to an application (simulated backend only)")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        return routes;
    }
}
