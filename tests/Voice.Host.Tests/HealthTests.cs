using System.Net;
using System.Net.Sockets;

namespace Voice.Host.Tests;

public class HealthTests
{
    [Test]
    public async Task Without_a_drachtio_server_the_host_is_alive_and_ready_on_the_simulated_backend()
    {
        await using var factory = new HostFactory();
        using var client = factory.CreateClient();

        Assert.That((await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var ready = await client.GetAsync("/readyz");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await ready.Content.ReadAsStringAsync(), Does.Contain("\"backend\":\"simulated\"").And.Contains("\"simulated\":true"));
    }

    [Test]
    public async Task With_an_unreachable_drachtio_server_readiness_reports_503()
    {
        // Ports nothing listens on: the links stay down and the host must say so.
        await using var factory = new HostFactory(new()
        {
            ["DRACHTIO_HOST"] = "127.0.0.1",
            ["DRACHTIO_PORT"] = FreePort(),
            ["DRACHTIO_SECRET"] = "cymru",
            ["FREESWITCH_HOST"] = "127.0.0.1",
            ["FREESWITCH_PORT"] = FreePort(),
            ["FreeSwitch:OutboundPort"] = "0",
        });
        using var client = factory.CreateClient();

        var ready = await client.GetAsync("/readyz");
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var body = await ready.Content.ReadAsStringAsync();
        Assert.That(body, Does.Contain("\"drachtio\":\"disconnected\"").And.Contains("\"connected\":false"));
        using var json = System.Text.Json.JsonDocument.Parse(body);
        Assert.That(json.RootElement.GetProperty("problem").GetString(), Does.Contain($"drachtio-server at 127.0.0.1:{factory.Settings["DRACHTIO_PORT"]} is not connected")
            .And.Contains($"media server 127.0.0.1: the Event Socket at 127.0.0.1:{factory.Settings["FREESWITCH_PORT"]} is not connected"), "the 503 says what is down");

        var metrics = await client.GetStringAsync("/metrics");
        Assert.That(Scrape.Value(metrics, "voicebridge_link_up", ("link", "drachtio"), ("name", $"127.0.0.1:{factory.Settings["DRACHTIO_PORT"]}")), Is.Zero);
        Assert.That(Scrape.Value(metrics, "voicebridge_link_up", ("link", "freeswitch"), ("name", "127.0.0.1")), Is.Zero);
        Assert.That(Scrape.Value(metrics, "voicebridge_simulated"), Is.Zero);
    }

    private static string FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
