using Voice.Control;
using Voice.Control.Drachtio;

namespace Voice.Host;

/// <summary>Opens the library's links when the host starts (in the background: links retry until up) and ends calls and links when it stops.</summary>
internal sealed class VoiceControlService(VoiceControlRuntime runtime, ILogger<VoiceControlService> logger) : BackgroundService
{
    /// <summary>Why this host's links could not be opened at all (a refused secret, a port in use), for /readyz.</summary>
    public string? StartFailure { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await runtime.StartAsync(stoppingToken);
        }
        catch (DrachtioAuthenticationException ex)
        {
            StartFailure = ex.Message;
            logger.LogCritical("{Error}. Fix DRACHTIO_SECRET (the secret of drachtio.conf.xml) and restart.", ex.Message);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            StartFailure = ex.Message;
            logger.LogCritical(ex, "VoiceBridge could not open its telephony links: {Error}", ex.Message);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await runtime.DisposeAsync();
    }
}
