using System.Reflection;
using FluentValidation;
using Microsoft.AspNetCore.Hosting.Server;
using Voice.Control;
using Voice.Control.Calls;
using Voice.Host;
using Voice.Host.Api;
using Voice.Host.Configuration;
using Voice.Host.Observability;
using Voice.Host.Security;
using Voice.Host.Storage;
using Voice.Host.Webhooks;

try
{
    // The configuration files (appsettings*.json) are looked at for changes every 4 s instead of through an inotify watch
    // of the whole content root. That watch covers every folder under it, the data directory included when it lies there
    // (the default, as under `dotnet run`): each SQLite write and each rendered message woke a thread of its own to drop
    // the event: on the lab's real servers 8.5-9.3 wake-ups and 0.46-0.65 ms of that thread's CPU per call (README,
    // Performance). Read when the configuration's file provider is made, inside CreateBuilder; an operator's own setting wins.
    if (Environment.GetEnvironmentVariable("DOTNET_USE_POLLING_FILE_WATCHER") is null)
    {
        Environment.SetEnvironmentVariable("DOTNET_USE_POLLING_FILE_WATCHER", "true");
    }
    var builder = WebApplication.CreateBuilder(args);
    // Socket completions run on the socket engine's thread instead of hopping to the thread pool: one wake-up fewer per
    // message on drachtio, Event Socket and webhook connections, which on the lab's virtual machine halved the cost of
    // each (README, Performance). Read by the runtime on the first socket operation (none has happened yet: building the
    // configuration opens no socket); an operator's own setting wins. Kestrel then runs requests there too instead of
    // handing each to the thread pool twice. What continues on that thread only parses, reads SQLite and hands over;
    // nothing on it blocks. Not with PostgreSQL: Npgsql reads a large row's columns with blocking socket reads, and one
    // on an engine thread waits for that same thread's readiness events (the load tool's runs stalled for 30 s, Npgsql's
    // timeout, until this was so).
    var database = VoiceBridgeConfiguration.Value(builder.Configuration, "DATABASE_URL", "Storage:ConnectionString");
    var inline = database is null || !PostgresDatabase.Names(database);
    if (inline && Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    {
        Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
    }
    if (inline && Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1")
    {
        builder.WebHost.UseSockets(options => options.UnsafePreferInlineScheduling = true);
    }
    if (builder.Configuration["HTTP_PORT"] is { Length: > 0 } httpPort)
    {
        builder.WebHost.UseUrls($"http://0.0.0.0:{httpPort}");
    }

    // The data directory: the database, rendered speech, and the generated API key and webhook secret.
    // A relative path is taken from the content root (src/Voice.Host under `dotnet run`, the app directory when published).
    var dataDirectory = Path.GetFullPath(
        VoiceBridgeConfiguration.Value(builder.Configuration, "DATA_DIR", "DataDirectory") ?? "data", builder.Environment.ContentRootPath);
    var voice = VoiceBridgeConfiguration.From(builder.Configuration, dataDirectory);

    var storage = new StorageOptions(
        TimeSpan.FromDays(VoiceBridgeConfiguration.Int(builder.Configuration, "RETENTION_DAYS", "Storage:RetentionDays") is not { } days ? 90
            : days >= 1 ? days : throw new InvalidOperationException($"RETENTION_DAYS {days} must be at least 1.")),
        voice.Calls.Recording?.Directory);
    // SQLite in the data directory unless DATABASE_URL (or Storage:ConnectionString) names a PostgreSQL, which several hosts can share.
    // With PostgreSQL, several hosts may share it: each names itself (HOST_ID; by default the machine's name and a random
    // part new at every start) and holds a lease (CLUSTER_LEASE_SECONDS) that others wait out before taking over its work.
    ICallStore store = new CallStore(
        StorageOptions.Database(database, dataDirectory),
        WebhookPayload.Body, hostId: VoiceBridgeConfiguration.Value(builder.Configuration, "HOST_ID", "Cluster:HostId"));
    var lease = VoiceBridgeConfiguration.Int(builder.Configuration, "CLUSTER_LEASE_SECONDS", "Cluster:LeaseSeconds") is not { } seconds ? 15
        : seconds >= 3 ? seconds : throw new InvalidOperationException($"CLUSTER_LEASE_SECONDS {seconds} must be at least 3.");
    builder.Services.AddSingleton(new Voice.Host.Cluster.ClusterOptions(TimeSpan.FromSeconds(lease)));
    builder.Services.AddSingleton(storage);
    builder.Services.AddSingleton(store);
    // Alerts pick up where the last run left them before the recorder places its queued calls again.
    builder.Services.AddSingleton(sp => new Voice.Host.Alerts.AlertChains(
        sp.GetRequiredService<CallManager>(), store, sp.GetRequiredService<CallRecorder>(), sp.GetRequiredService<Voice.Control.VoiceControlOptions>(),
        sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<ILogger<Voice.Host.Alerts.AlertChains>>()));
    builder.Services.AddHostedService(sp => sp.GetRequiredService<Voice.Host.Alerts.AlertChains>());
    // The recorder is registered first so it stops last: the calls end (and say so) before it stops listening.
    builder.Services.AddSingleton(sp => new CallRecorder(
        sp.GetRequiredService<IOutboundCalls>(), store, storage, sp.GetRequiredService<WebhookSender>().Enqueue, sp.GetRequiredService<TimeProvider>(),
        sp.GetRequiredService<ILogger<CallRecorder>>(), call => sp.GetRequiredService<CallManager>().Place(OutboundCallRequest.FromStored(call), call.CallId)));
    builder.Services.AddHostedService(sp => sp.GetRequiredService<CallRecorder>());
    var webhooks = VoiceBridgeConfiguration.Webhooks(builder.Configuration, dataDirectory);
    // What calls that come in hear, by name; their hooks and webhooks follow the webhook destination rules.
    var applications = ApplicationSettings.From(builder.Configuration, webhooks.Destinations);
    voice = voice with { Calls = voice.Calls with { Applications = applications.ToDictionary(a => a.Name, a => a.Application, StringComparer.Ordinal) } };
    builder.Services.AddSingleton(applications);
    // Click-to-call's agents: AGENTS=101=Alice,102=Bob (or Agents: ["101=Alice", …]); others are created on first use.
    var agents = (VoiceBridgeConfiguration.List(builder.Configuration, "AGENTS", "Agents") ?? [])
        .Select(a => a.Split('=', 2) is [var extension, var name] ? new Voice.Host.Agents.AgentSettings(extension.Trim(), name.Trim())
            : new Voice.Host.Agents.AgentSettings(a.Trim(), null))
        .ToList();
    builder.Services.AddSingleton(sp => new Voice.Host.Agents.AgentDesk(sp.GetRequiredService<IOutboundCalls>(), store, agents));
    builder.Services.AddSingleton(webhooks);
    builder.Services.AddSingleton<IValidator<OutboundCallRequest>>(new OutboundCallValidator(voice.Calls, webhooks.Destinations));
    // Scripts' hooks are signed with the webhook secret and may connect only where webhooks may.
    builder.Services.AddSingleton<Voice.Control.Scripts.ICallHooks>(sp => new Voice.Control.Scripts.HttpCallHooks(
        new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = webhooks.Destinations.ConnectAsync,
        })
        { Timeout = Timeout.InfiniteTimeSpan },
        webhooks.Secret, sp.GetRequiredService<TimeProvider>()));
    builder.Services.AddSingleton(sp => new WebhookSender(
        store, sp.GetRequiredService<WebhookOptions>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<WebhookSender>>(),
        sp.GetRequiredService<HostMeter>()));
    builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookSender>());
    // After the recorder and the webhook sender: hosted services stop in reverse order, so the calls end (and say
    // so) before those stop listening. AddVoiceControl registers the service that opens and closes the links.
    builder.Services.AddVoiceControl(voice);
    // The live stream across the cluster (does nothing on SQLite).
    builder.Services.AddSingleton(sp =>
    {
        var calls = sp.GetRequiredService<IOutboundCalls>();
        var desk = sp.GetRequiredService<Voice.Host.Agents.AgentDesk>();
        return new Voice.Host.Cluster.ClusterEvents(store, calls, change => DashboardApi.StateJson(change, calls, desk),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Voice.Host.Cluster.ClusterEvents>>());
    });
    // After the library: it stops first, handing the calls it claimed and has not started back before the library ends the rest.
    builder.Services.AddSingleton<Voice.Host.Cluster.ClusterMember>();
    builder.Services.AddHostedService(sp => sp.GetRequiredService<Voice.Host.Cluster.ClusterMember>());

    var apiKeys = builder.AddApiSecurity(dataDirectory);
    builder.AddTelemetry();
    builder.Services.AddOpenApi(options => options.AddDocumentTransformer<ApiDocument>());
    builder.Services.ConfigureHttpJsonOptions(options => ApiJson.Use(options.SerializerOptions));
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestLineSize = HttpErrors.MaxRequestLine);

    var app = builder.Build();

    // Before any request: the schema, then what the last run left behind.
    await store.InitializeAsync();
    var (closed, queued) = await store.RecoverAsync(TimeProvider.System.GetUtcNow());
    await app.Services.GetRequiredService<Voice.Host.Agents.AgentDesk>().LoadAsync();
    if (closed > 0)
    {
        app.Logger.LogWarning("{Count} calls were in progress when VoiceBridge last stopped; they are recorded as failed (host_restart)", closed);
    }
    app.Services.GetRequiredService<CallRecorder>().Requeue = queued;
    // A call that comes in is stored (with its application's webhook URL) before its first state change.
    var recorder = app.Services.GetRequiredService<CallRecorder>();
    var webhookOf = applications.ToDictionary(a => a.Name, a => a.WebhookUrl, StringComparer.Ordinal);
    app.Services.GetRequiredService<CallManager>().CallArrived += (_, call) =>
        recorder.Accept(new Voice.Host.Storage.NewCall(Voice.Host.Storage.CallRecord.Arrived(call, call.Application is { } name ? webhookOf.GetValueOrDefault(name) : null)));
    // Last: once everything is written, what this host still owns in a cluster goes back to it, then the store closes.
    var member = app.Services.GetRequiredService<Voice.Host.Cluster.ClusterMember>();
    app.Lifetime.ApplicationStopped.Register(() =>
    {
        member.Leave();
        store.Dispose();
    });
    if (voice.IsSimulated)
    {
        app.Logger.LogWarning(
            "No drachtio-server configured (set DRACHTIO_HOST, DRACHTIO_PORT, DRACHTIO_SECRET and FREESWITCH_HOST): " +
            "VoiceBridge runs on the SIMULATED backend. Nothing really rings; every call reports simulated=true. " +
            "Try +15005550000 (answers), +15005550001 (busy), +15005550002 (never answers).");
    }

    app.Logger.LogInformation(apiKeys.Disabled ? "API authentication is OFF ({Source})" : "API keys from {Source}: send Authorization: Bearer <key> or X-API-Key: <key>", apiKeys.Source);

    app.UseRequestSpans();
    app.UseApiErrorPages();
    // The dashboard's page loads nothing from elsewhere and runs no inline script: a value that slipped into the page as
    // markup could not run, and no other site may frame it.
    app.Use((context, next) =>
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "same-origin";
        return next(context);
    });
    app.UseApiSecurity();
    // The dashboard (wwwroot: index.html, app.js, app.css) at /.
    app.UseDefaultFiles();
    app.UseStaticFiles();
    // Rendered speech for a FreeSWITCH on another machine (Tts:HttpBase = http://<this host>:<port>/tts/). The names are
    // SHA-256 digests, so they cannot be guessed; files being written start with a dot and are never served.
    var speechDirectory = Directory.CreateDirectory(voice.SpeechCache!.Directory).FullName;
    app.UseStaticFiles(new StaticFileOptions
    {
        FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(speechDirectory),
        RequestPath = "/tts",
        ServeUnknownFileTypes = false,
    });
    app.MapHealthApi();
    app.MapCallsApi();
    app.MapRecordingsApi(voice.Calls.Recording!);
    app.MapClickToCallApi();
    app.MapDashboardApi();
    app.MapStatsApi();
    app.MapSimulateApi();
    app.MapMetrics();
    app.MapOpenApi();

    await app.StartAsync();
    // API_AUTH=off is allowed on loopback alone: checked on the addresses Kestrel really bound (whatever setting
    // chose them), before the API serves anything. Until then /api answers 503.
    if (apiKeys.Disabled && ApiSecurity.NonLoopback(app.Services.GetRequiredService<IServer>()) is { Count: > 0 } exposed)
    {
        await app.StopAsync();
        throw new InvalidOperationException(
            $"API_AUTH=off is allowed only when VoiceBridge listens on loopback alone, but it listens on {string.Join(", ", exposed)}. Configure API_KEYS, or bind to 127.0.0.1.");
    }
    apiKeys.BindingChecked = true;
    await app.WaitForShutdownAsync();
    return 0;
}
catch (Exception ex) when (ex is not HostAbortedException && Assembly.GetEntryAssembly() == typeof(Program).Assembly)
{
    // A setting that does not parse, a short API key, an address taken: one clear line and exit code 1, not a crash.
    // (When the tests' factory runs this entry point, the exception is theirs to see.)
    Console.Error.WriteLine($"VoiceBridge cannot start: {ex.Message}");
    if (ex is not InvalidOperationException and not ArgumentException and not FormatException and not IOException)
    {
        Console.Error.WriteLine(ex);
    }
    return 1;
}

/// <summary>Entry point, visible to the host tests.</summary>
public partial class Program;
