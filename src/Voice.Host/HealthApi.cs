using Voice.Control;
using Voice.Control.Drachtio;
using Voice.Control.Media;

namespace Voice.Host;

/// <summary><c>/healthz</c>: the process is alive. <c>/readyz</c>: calls can be placed (the database answers, and the links are up or the backend is simulated).</summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/healthz", () => Api.JsonBody.Ok(new { status = "alive" }));
        routes.MapGet("/readyz", async (VoiceControlOptions options, VoiceControlHostedService links, VoiceControlRuntime runtime, IServiceProvider services, Storage.ICallStore store) =>
        {
            // Without the database no call can be accepted: a load balancer sends the POSTs to another host meanwhile.
            var database = new { engine = store.Engine, host = store.HostId, reachable = await store.PingAsync(TimeSpan.FromSeconds(2)) };
            var databaseProblem = database.reachable ? null : $"the {store.Engine} database does not answer";
            if (options.IsSimulated)
            {
                var body = new { ready = database.reachable, backend = "simulated", simulated = true, drachtio = "not configured", database, problem = databaseProblem };
                return database.reachable ? Api.JsonBody.Ok(body) : new Api.JsonBody(body, StatusCodes.Status503ServiceUnavailable, Api.JsonBody.Json);
            }
            var drachtio = services.GetRequiredService<DrachtioClient>();
            var media = services.GetRequiredService<MediaServerPool>().Status;
            var ready = drachtio.IsConnected && media.Any(m => m.IsConnected) && links.StartFailure is null && database.reachable;
            // Everything that is down, so an operator reads the cause in the 503 itself.
            var problems = new List<string>();
            if (databaseProblem is not null)
            {
                problems.Add(databaseProblem);
            }
            if (links.StartFailure is { } failure)
            {
                problems.Add(failure);
            }
            if (!drachtio.IsConnected)
            {
                problems.Add($"drachtio-server at {drachtio.Options.Host}:{drachtio.Options.Port} is not connected"
                    + (drachtio.LastFailure is { } lost ? ": " + lost : string.Empty));
            }
            problems.AddRange(media.Where(m => m.Problem is not null).Select(m => $"media server {m.Name}: {m.Problem}"));
            var linked = new
            {
                ready,
                database,
                backend = "drachtio+freeswitch",
                simulated = false,
                drachtio = drachtio.IsConnected ? "connected" : "disconnected",
                server = drachtio.Server?.Version,
                // Not part of readiness: calls go out without it; only the PBX's calls to the extension wait for it.
                registration = options.Registration is { } register ? new
                {
                    addressOfRecord = register.AddressOfRecord,
                    state = (runtime.Registration?.State ?? RegistrationState.Unregistered).ToString().ToLowerInvariant(),
                    expiresAt = runtime.Registration?.ExpiresAt,
                    lastError = runtime.Registration?.LastError?.Message,
                } : null,
                mediaServers = media.Select(m => new { name = m.Name, connected = m.IsConnected, problem = m.Problem, endpoints = m.Endpoints, sessions = m.Load?.SessionCount, idleCpu = m.Load?.IdleCpu }),
                problem = problems.Count == 0 ? null : string.Join("; ", problems),
            };
            return ready ? Api.JsonBody.Ok(linked) : new Api.JsonBody(linked, StatusCodes.Status503ServiceUnavailable, Api.JsonBody.Json);
        });
        return routes;
    }
}
