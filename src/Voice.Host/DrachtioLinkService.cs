using Voice.Control.Drachtio;

namespace Voice.Host;

/// <summary>Keeps the drachtio-server link up for the lifetime of the host; the client reconnects by itself.</summary>
internal sealed class DrachtioLinkService(DrachtioClient client, ILogger<DrachtioLinkService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await client.ConnectAsync(stoppingToken);
        }
        catch (DrachtioAuthenticationException ex)
        {
            logger.LogCritical("{Error}. Fix DRACHTIO_SECRET (the secret of drachtio.conf.xml) and restart.", ex.Message);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await client.DisposeAsync();
    }
}
