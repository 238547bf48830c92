using FluentValidation;
using Voice.Control;
using Voice.Host;
using Voice.Host.Api;
using Voice.Host.Configuration;

var builder = WebApplication.CreateBuilder(args);
if (builder.Configuration["HTTP_PORT"] is { Length: > 0 } httpPort)
{
    builder.WebHost.UseUrls($"http://0.0.0.0:{httpPort}");
}

var dataDirectory = VoiceBridgeConfiguration.Value(builder.Configuration, "DATA_DIR", "DataDirectory") ?? Path.Combine(AppContext.BaseDirectory, "data");
var voice = VoiceBridgeConfiguration.From(builder.Configuration, dataDirectory);
builder.Services.AddVoiceControl(voice);
builder.Services.AddSingleton<IValidator<OutboundCallRequest>>(new OutboundCallValidator(voice.Calls));
builder.Services.AddHostedService<VoiceControlService>();

var app = builder.Build();
if (voice.IsSimulated)
{
    app.Logger.LogWarning(
        "No drachtio-server configured (set DRACHTIO_HOST, DRACHTIO_PORT, DRACHTIO_SECRET and FREESWITCH_HOST): " +
        "VoiceBridge runs on the SIMULATED backend. Nothing really rings; every call reports simulated=true. " +
        "Try +15005550000 (answers), +15005550001 (busy), +15005550002 (never answers).");
}

app.MapHealthApi();
app.MapCallsApi();

app.Run();

/// <summary>Entry point, visible to the host tests.</summary>
public partial class Program;
