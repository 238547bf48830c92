using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Voice.Host.Tests;

public class HealthTests
{
    [Test]
    public async Task Without_a_drachtio_server_the_host_is_alive_and_ready()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var client = factory.CreateClient();

        Assert.That((await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var ready = await client.GetAsync("/readyz");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await ready.Content.ReadAsStringAsync(), Does.Contain("not configured"));
    }

    [Test]
    public async Task With_an_unreachable_drachtio_server_readiness_reports_503()
    {
        // A port nothing listens on: the link stays down and the host must say so.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseSetting("DRACHTIO_HOST", "127.0.0.1")
            .UseSetting("DRACHTIO_PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .UseSetting("DRACHTIO_SECRET", "cymru"));
        using var client = factory.CreateClient();

        var ready = await client.GetAsync("/readyz");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await ready.Content.ReadAsStringAsync(), Does.Contain("disconnected"));
    }
}
