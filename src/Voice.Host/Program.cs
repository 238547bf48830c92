using Voice.Control.Drachtio;
using Voice.Host;

var builder = WebApplication.CreateBuilder(args);
if (builder.Configuration["HTTP_PORT"] is { Length: > 0 } httpPort)
{
    builder.WebHost.UseUrls($"http://0.0.0.0:{httpPort}");
}

var drachtio = DrachtioSettings.From(builder.Configuration);
if (drachtio is not null)
{
    drachtio.Validate();
    builder.Services.AddSingleton(sp => new DrachtioClient(drachtio, sp.GetRequiredService<ILogger<DrachtioClient>>()));
    builder.Services.AddHostedService<DrachtioLinkService>();
}

var app = builder.Build();

if (drachtio is null)
{
    app.Logger.LogWarning(
        "No drachtio-server configured (set DRACHTIO_HOST, DRACHTIO_PORT and DRACHTIO_SECRET): VoiceBridge runs without a telephony link.");
}

app.MapGet("/healthz", () => Results.Ok(new { status = "alive" }));
app.MapGet("/readyz", (IServiceProvider services) =>
{
    var client = services.GetService<DrachtioClient>();
    var drachtioState = client is null ? "not configured" : client.IsConnected ? "connected" : "disconnected";
    var ready = client is null || client.IsConnected;
    var body = new { ready, drachtio = drachtioState, server = client?.Server?.Version };
    return ready ? Results.Ok(body) : Results.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
});

app.Run();

/// <summary>Entry point, visible to the host tests.</summary>
public partial class Program;
