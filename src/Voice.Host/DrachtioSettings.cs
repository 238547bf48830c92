using Voice.Control.Drachtio;

namespace Voice.Host;

/// <summary>
/// The drachtio-server link as configured: the <c>Drachtio</c> section of appsettings.json, or the original
/// voice-app's environment variables (<c>DRACHTIO_HOST</c>, <c>DRACHTIO_PORT</c>, <c>DRACHTIO_SECRET</c>).
/// </summary>
internal static class DrachtioSettings
{
    /// <summary>The client options, or null when no drachtio-server is configured.</summary>
    public static DrachtioClientOptions? From(IConfiguration configuration)
    {
        var section = configuration.GetSection("Drachtio");
        var host = configuration["DRACHTIO_HOST"] ?? section["Host"];
        if (string.IsNullOrWhiteSpace(host))
        {
            return null;
        }
        var port = configuration["DRACHTIO_PORT"] ?? section["Port"];
        return new DrachtioClientOptions
        {
            Host = host,
            Port = int.TryParse(port, out var p) ? p : DrachtioClientOptions.Default.Port,
            Secret = configuration["DRACHTIO_SECRET"] ?? section["Secret"] ?? string.Empty,
        };
    }
}
