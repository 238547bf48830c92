using System.Threading.Channels;
using System.Text.Json;
using Voice.Control.Calls;
using Voice.Host.Agents;
using Voice.Host.Security;
using Voice.Host.Storage;

namespace Voice.Host.Api;

/// <summary>
/// What the dashboard needs beyond the call API: signing in with an API key (a session cookie and a CSRF token), the live
/// state stream as server-sent events, a call's state timeline, and calls per day for the chart.
/// </summary>
internal static class DashboardApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapDashboardApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/auth/login", LoginAsync).ExcludeFromDescription();
        routes.MapGet("/auth/session", async (HttpContext context, DashboardSessions sessions) =>
            await sessions.FindAsync(context.Request.Cookies[DashboardSessions.CookieName]) is { } session
                ? JsonBody.Ok(new { signedIn = true, name = session.KeyName, csrfToken = session.CsrfToken })
                : ApiErrors.Problem(StatusCodes.Status401Unauthorized, "signed_out", "Sign in with an API key")).ExcludeFromDescription();
        routes.MapPost("/auth/logout", async (HttpContext context, DashboardSessions sessions) =>
        {
            var id = context.Request.Cookies[DashboardSessions.CookieName];
            if (await sessions.FindAsync(id) is { } session && !DashboardSessions.CsrfMatches(session, context.Request.Headers[DashboardSessions.CsrfHeader].ToString()))
            {
                return ApiErrors.Problem(StatusCodes.Status403Forbidden, "csrf_failed", $"Signing out must carry the session's {DashboardSessions.CsrfHeader} header");
            }
            await sessions.EndAsync(id);
            context.Response.Cookies.Delete(DashboardSessions.CookieName, Cookie(context));
            return JsonBody.Ok(new { success = true });
        }).ExcludeFromDescription();

        var api = routes.MapGroup("/api").WithTags("Dashboard");
        api.MapGet("/events", StreamAsync)
            .WithSummary("Every call's state changes as server-sent events (event: state), as they happen");
        api.MapGet("/call/{callId}/timeline", async (string callId, IOutboundCalls calls, ICallStore store, CallRecorder recorder) =>
        {
            await recorder.WrittenAsync();
            var history = await store.HistoryAsync(callId);
            if (history.Count == 0 && calls.Get(callId) is null)
            {
                return ApiErrors.NotFound(callId);
            }
            return JsonBody.Ok(new
            {
                success = true,
                callId,
                timeline = history.Select(h => new { sequence = h.Sequence, state = h.State, reason = h.Reason, at = h.At }),
            });
        }).WithSummary("A call's states in order, with when each began").ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/stats/daily", async (int? days, string? tz, ICallStore store, CallRecorder recorder, TimeProvider time) =>
        {
            if (days is < 1 or > 366)
            {
                return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", "days: must be between 1 and 366", "days");
            }
            if (!TimeZones.TryFind(tz, out var zone, out var badZone))
            {
                return badZone!;
            }
            await recorder.WrittenAsync();
            var now = time.GetUtcNow();
            var perDay = await store.CallsPerDayAsync(now, days ?? 30, zone.GetUtcOffset(now));
            return JsonBody.Ok(new { success = true, timeZone = zone.Id, days = perDay.Select(d => new { day = d.Day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), calls = d.Calls }) });
        }).WithSummary("Calls per day (default the last 30), for the dashboard's chart").ProducesProblem(StatusCodes.Status400BadRequest);
        return routes;
    }

    private static CookieOptions Cookie(HttpContext context) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = context.Request.IsHttps,
        Path = "/",
    };

    /// <summary>
    /// Signs in with an API key (JSON <c>{"apiKey":…}</c> or a form field): wrong keys count against the address as on the
    /// API; a request from another site's page (its Origin is not this host) is refused.
    /// </summary>
    private static async Task<IResult> LoginAsync(HttpContext context, ApiKeys keys, FailedKeyLimits guesses, DashboardSessions sessions)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && (!Uri.TryCreate(origin, UriKind.Absolute, out var from) || !string.Equals(from.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase)))
        {
            return ApiErrors.Problem(StatusCodes.Status403Forbidden, "cross_site", "Sign in from VoiceBridge's own page");
        }
        var client = context.Connection.RemoteIpAddress;
        if (guesses.IsBlocked(client, out var wait))
        {
            return ApiErrors.TooManyRequests(context, wait, "too_many_wrong_keys", seconds => $"Too many wrong API keys from this address; retry after {seconds} s");
        }
        string? presented = null;
        if (context.Request.HasFormContentType)
        {
            presented = (await context.Request.ReadFormAsync(context.RequestAborted))["apiKey"].ToString();
        }
        else
        {
            var (body, problem) = await RequestBody.ReadAsync<LoginRequest>(context, 4096);
            if (body is null)
            {
                return problem!;
            }
            presented = body.ApiKey;
        }
        if (string.IsNullOrWhiteSpace(presented))
        {
            return ApiErrors.Problem(StatusCodes.Status400BadRequest, "validation_error", "apiKey: is required", "apiKey");
        }
        var name = keys.Disabled ? "local" : keys.Match(presented.Trim());
        if (name is null)
        {
            guesses.Failed(client);
            return ApiErrors.Problem(StatusCodes.Status401Unauthorized, "invalid_api_key", "The API key is not valid");
        }
        var (id, session) = await sessions.StartAsync(name);
        var cookie = Cookie(context);
        cookie.Expires = session.Expires;
        context.Response.Cookies.Append(DashboardSessions.CookieName, id, cookie);
        return JsonBody.Ok(new { success = true, name, csrfToken = session.CsrfToken });
    }

    private sealed class LoginRequest
    {
        public string? ApiKey { get; set; }
    }

    /// <summary>
    /// The state stream: each change as <c>event: state</c> with the call's id, state, reason and when, and a comment every
    /// 15 s so proxies keep the connection. It ends when the client goes, or falls too far behind (it reconnects and re-reads).
    /// </summary>
    /// <remarks>In a cluster the other hosts' changes come too (<see cref="Cluster.ClusterEvents"/>), a moment later.</remarks>
    private static async Task StreamAsync(HttpContext context, IOutboundCalls calls, IHostApplicationLifetime lifetime, AgentDesk desk, Cluster.ClusterEvents cluster)
    {
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        await context.Response.WriteAsync(": connected\n\n", stop.Token);
        await context.Response.Body.FlushAsync(stop.Token);
        var changes = calls.WatchAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        var next = changes.MoveNextAsync().AsTask();
        var others = Channel.CreateBounded<string>(new BoundedChannelOptions(1000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
        using var watching = cluster.Watch(others.Writer);
        var other = others.Reader.WaitToReadAsync(stop.Token).AsTask();
        try
        {
            // One heartbeat timer at a time, made again only once it has fired: not one per change.
            var heartbeat = Task.Delay(TimeSpan.FromSeconds(15), stop.Token);
            while (true)
            {
                var ready = await Task.WhenAny(next, other, heartbeat);
                if (ready == heartbeat)
                {
                    await context.Response.WriteAsync(": ping\n\n", stop.Token);
                    await context.Response.Body.FlushAsync(stop.Token);
                    heartbeat = Task.Delay(TimeSpan.FromSeconds(15), stop.Token);
                    continue;
                }
                if (ready == other)
                {
                    while (others.Reader.TryRead(out var relayed))
                    {
                        await context.Response.WriteAsync($"event: state\ndata: {relayed}\n\n", stop.Token);
                    }
                    await context.Response.Body.FlushAsync(stop.Token);
                    other = others.Reader.WaitToReadAsync(stop.Token).AsTask();
                    continue;
                }
                if (!await next)
                {
                    return;
                }
                await context.Response.WriteAsync($"event: state\ndata: {StateJson(changes.Current, calls, desk)}\n\n", stop.Token);
                await context.Response.Body.FlushAsync(stop.Token);
                next = changes.MoveNextAsync().AsTask();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            await stop.CancelAsync();
            await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await ((Task)other).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await changes.DisposeAsync();
        }
    }

    /// <summary>A state change as the stream sends it: the call's id, state, reason and when, its number and click-to-call's agent (this host's view).</summary>
    internal static string StateJson(CallStateChange change, IOutboundCalls calls, AgentDesk desk)
    {
        var clickToCall = desk.ClickToCallOf(change.CallId);
        return JsonSerializer.Serialize(new
        {
            callId = change.CallId,
            sequence = change.Sequence,
            state = CallStateMachine.Name(change.To),
            previous = change.From is { } from ? CallStateMachine.Name(from) : null,
            at = change.At,
            reason = change.Reason,
            sipStatus = change.SipStatus,
            detail = change.Detail,
            simulated = change.Simulated,
            to = calls.Get(change.CallId)?.To,
            agent = clickToCall?.Agent,
            destination = clickToCall?.Destination,
        }, Json);
    }
}
