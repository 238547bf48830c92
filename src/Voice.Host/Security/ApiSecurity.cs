using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Voice.Host.Api;
using Voice.Host.Configuration;
using Voice.Host.Observability;

namespace Voice.Host.Security;

/// <summary>
/// API keys on <c>/api</c> (<c>Authorization: Bearer &lt;key&gt;</c> or <c>X-API-Key: &lt;key&gt;</c>) and a token
/// bucket per key. Health, metrics, the OpenAPI document and rendered speech stay open: probes, Prometheus and
/// FreeSWITCH cannot present a key, and speech files have unguessable names.
/// </summary>
internal static class ApiSecurity
{
    /// <summary>Reads the keys and limits; refuses to start with authentication off unless every bound address is loopback.</summary>
    public static ApiKeys AddApiSecurity(this WebApplicationBuilder builder, string dataDirectory)
    {
        var configuration = builder.Configuration;
        var disabled = VoiceBridgeConfiguration.Value(configuration, "API_AUTH", "Auth:Mode") is { } mode
            && (mode.Equals("off", StringComparison.OrdinalIgnoreCase) || mode.Equals("disabled", StringComparison.OrdinalIgnoreCase));
        var urls = builder.WebHost.GetSetting(WebHostDefaults.ServerUrlsKey);
        if (disabled && !IsLoopbackOnly(urls))
        {
            throw new InvalidOperationException(
                $"API_AUTH=off is allowed only when VoiceBridge listens on loopback alone, but it listens on '{urls}'. Configure API_KEYS, or bind to 127.0.0.1.");
        }
        ApiKeys keys;
        if (disabled)
        {
            keys = new ApiKeys([], disabled: true, "API_AUTH=off (loopback only)");
        }
        else if (VoiceBridgeConfiguration.List(configuration, "API_KEYS", "Auth:ApiKeys") is { Count: > 0 } configured)
        {
            keys = new ApiKeys(ApiKeys.Parse(configured), disabled: false, "API_KEYS");
        }
        else
        {
            var path = Path.Combine(dataDirectory, "api-key");
            var (generated, _) = SecretFile.ReadOrCreate(path, "vb_");
            keys = new ApiKeys([("generated", generated)], disabled: false, path);
        }
        builder.Services.AddSingleton(keys);

        var perSecond = VoiceBridgeConfiguration.Int(configuration, "RATE_LIMIT_PER_SECOND", "RateLimit:PerSecond") ?? 20;
        var burst = VoiceBridgeConfiguration.Int(configuration, null, "RateLimit:Burst") ?? Math.Max(perSecond * 2, 10);
        if (perSecond < 1 || burst < 1)
        {
            throw new InvalidOperationException("RATE_LIMIT_PER_SECOND and RateLimit:Burst must be at least 1.");
        }
        builder.Services.AddSingleton(sp => new KeyRateLimits(perSecond, burst, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new FailedKeyLimits(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new DashboardSessions(sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Storage.ICallStore>() is { Clustered: true } cluster ? cluster : null));
        return keys;
    }

    /// <summary>Authenticates <c>/api</c> requests, then applies the rate limit of the key used.</summary>
    public static WebApplication UseApiSecurity(this WebApplication app)
    {
        var keys = app.Services.GetRequiredService<ApiKeys>();
        var limits = app.Services.GetRequiredService<KeyRateLimits>();
        var guesses = app.Services.GetRequiredService<FailedKeyLimits>();
        var meter = app.Services.GetRequiredService<HostMeter>();
        var sessions = app.Services.GetRequiredService<DashboardSessions>();
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/api"))
            {
                await next(context);
                return;
            }
            if (keys.Disabled && !keys.BindingChecked)
            {
                await ApiErrors.Problem(StatusCodes.Status503ServiceUnavailable, "starting",
                    "VoiceBridge is checking that it listens on loopback alone (API_AUTH=off); try again in a moment").ExecuteAsync(context);
                return;
            }
            var presented = keys.Disabled ? null : Presented(context.Request);
            var client = context.Connection.RemoteIpAddress;
            if (presented is not null && guesses.IsBlocked(client, out var wait))
            {
                meter.RateLimited.Add(1);
                await ApiErrors.TooManyRequests(context, wait, "too_many_wrong_keys",
                    seconds => $"Too many wrong API keys from this address; retry after {seconds} s").ExecuteAsync(context);
                return;
            }
            var name = keys.Disabled ? "local" : presented is null ? null : Recognized(context, keys, presented);
            if (name is null && presented is null && await sessions.FindAsync(context.Request.Cookies[DashboardSessions.CookieName]) is { } session)
            {
                // The dashboard: its session cookie stands for the key it signed in with. Anything that changes state must
                // also carry the session's CSRF token, which another site's form or script cannot know.
                if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
                    && !DashboardSessions.CsrfMatches(session, context.Request.Headers[DashboardSessions.CsrfHeader].ToString()))
                {
                    await ApiErrors.Problem(StatusCodes.Status403Forbidden, "csrf_failed",
                        $"A change through a dashboard session must carry its {DashboardSessions.CsrfHeader} header").ExecuteAsync(context);
                    return;
                }
                name = session.KeyName;
            }
            if (name is null)
            {
                if (presented is not null)
                {
                    guesses.Failed(client);
                }
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await ApiErrors.Problem(StatusCodes.Status401Unauthorized, presented is null ? "missing_api_key" : "invalid_api_key",
                    presented is null ? "Send an API key: Authorization: Bearer <key> or X-API-Key: <key>" : "The API key is not valid").ExecuteAsync(context);
                return;
            }
            if (!limits.TryTake(name, out var retryAfter))
            {
                meter.RateLimited.Add(1);
                await ApiErrors.TooManyRequests(context, retryAfter, "rate_limited",
                    seconds => $"This API key may make {limits.PerSecond} requests per second (bursts of {limits.Burst}); retry after {seconds} s").ExecuteAsync(context);
                return;
            }
            await next(context);
        });
        return app;
    }

    /// <summary>
    /// The name of the presented key, or null. A connection that showed a right key is asked only whether it shows the same
    /// again: clients keep their connections alive and send the same key on every request (a call's poll each second),
    /// and hashing it each time was 1 % of the host's CPU per call. Compared in constant time, as the digests are: behind
    /// a proxy one connection carries many clients' requests.
    /// </summary>
    private static string? Recognized(HttpContext context, ApiKeys keys, string presented)
    {
        var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is null)
        {
            return keys.Match(presented);
        }
        RecognizedKey? known;
        lock (items) // HTTP/2 runs a connection's requests at once
        {
            known = items.TryGetValue(typeof(RecognizedKey), out var item) ? item as RecognizedKey : null;
        }
        if (known is not null && CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(known.Presented.AsSpan()), MemoryMarshal.AsBytes(presented.AsSpan())))
        {
            return known.Name;
        }
        var name = keys.Match(presented);
        if (name is not null)
        {
            lock (items)
            {
                items[typeof(RecognizedKey)] = new RecognizedKey(presented, name);
            }
        }
        return name;
    }

    /// <summary>The right key a connection showed last, and its name.</summary>
    private sealed record RecognizedKey(string Presented, string Name);

    private static string? Presented(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }
        return request.Headers["X-API-Key"].ToString() is { Length: > 0 } key ? key.Trim() : null;
    }

    /// <summary>The addresses the server really bound that are not loopback (none for the tests' in-process server).</summary>
    public static IReadOnlyList<string> NonLoopback(IServer server) =>
        [.. (server.Features.Get<IServerAddressesFeature>()?.Addresses ?? []).Where(address => !IsLoopbackOnly(address))];

    /// <summary>True when every URL binds a loopback address (no URL: Kestrel's default, localhost).</summary>
    public static bool IsLoopbackOnly(string? urls)
    {
        if (string.IsNullOrWhiteSpace(urls))
        {
            return true;
        }
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var host = url.Contains("://", StringComparison.Ordinal) ? url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..] : url;
            host = host.Split('/')[0];
            host = host.StartsWith('[') ? host[1..host.IndexOf(']', StringComparison.Ordinal)] : host.Split(':')[0];
            var loopback = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
            if (!loopback)
            {
                return false;
            }
        }
        return true;
    }
}
