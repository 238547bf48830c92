using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Voice.Host.Webhooks;

namespace Voice.Host.Tests;

/// <summary>Where webhooks may go: never to metadata, link-local or unspecified addresses, to private ones only when allowed.</summary>
public class WebhookDestinationTests
{
    private static readonly string[] AlwaysRefused =
    [
        "http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://0xA9FEA9FE/", "http://0251.0376.0251.0376/",
        "http://169.254.43518/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/", "http://0.0.0.0:80/", "http://0/",
        "http://[::]/", "http://100.100.100.200/", "http://[fd00:ec2::254]/", "http://224.0.0.1/", "http://255.255.255.255/",
        "http://user:pass@n8n.example.com/webhook", "http://token@n8n.example.com/webhook", "ftp://n8n.example.com/", "/relative",
    ];

    private static readonly string[] PrivateOrLoopback =
    [
        "http://127.0.0.1:5678/webhook/x", "http://localhost:5678/", "http://LOCALHOST./", "http://[::1]/", "http://10.1.2.3/",
        "http://172.16.0.1/", "http://192.168.1.10/", "http://100.64.0.1/", "http://[fd12::1]/",
    ];

    [Test]
    public void Metadata_link_local_unspecified_and_credentials_are_refused_in_every_spelling_even_when_everything_is_allowed()
    {
        var everything = new WebhookDestinations(["0.0.0.0/0", "::/0", "loopback", "private"]);
        foreach (var url in AlwaysRefused)
        {
            Assert.That(WebhookDestinations.Default.CheckUrl(url), Is.Not.Null, url);
            Assert.That(everything.CheckUrl(url), Is.Not.Null, url);
        }
    }

    [Test]
    public void Loopback_and_private_receivers_need_the_allow_list()
    {
        var allowed = new WebhookDestinations(["loopback", "private"]);
        foreach (var url in PrivateOrLoopback)
        {
            Assert.That(WebhookDestinations.Default.CheckUrl(url), Is.Not.Null, url);
            Assert.That(allowed.CheckUrl(url), Is.Null, url);
        }
        var lan = new WebhookDestinations(["192.168.1.0/24"]);
        Assert.That(lan.CheckUrl("http://192.168.1.10/hook"), Is.Null);
        Assert.That(lan.CheckUrl("http://192.168.2.10/hook"), Does.Contain("private address"));
        Assert.That(lan.CheckUrl("http://127.0.0.1/hook"), Does.Contain("loopback"));
    }

    [Test]
    public void Public_receivers_are_allowed_by_default()
    {
        Assert.That(WebhookDestinations.Default.CheckUrl("https://n8n.example.com/webhook/abc"), Is.Null);
        Assert.That(WebhookDestinations.Default.CheckUrl("http://93.184.216.34:8080/hook"), Is.Null);
        Assert.That(WebhookDestinations.Default.CheckUrl("http://[2606:2800:220:1:248:1893:25c8:1946]/hook"), Is.Null);
    }

    [TestCase("192.168.1.0/33")]
    [TestCase("lan")]
    [TestCase("10.0.0.0/-1")]
    public void A_bad_allow_list_entry_is_an_error_naming_the_setting(string entry) =>
        Assert.That(() => new WebhookDestinations([entry]), Throws.InstanceOf<FormatException>().With.Message.Contains("WEBHOOK_ALLOWED_NETWORKS").And.Message.Contains(entry));

    [Test]
    public async Task A_name_is_checked_on_the_address_it_resolves_to_when_the_webhook_connects()
    {
        // rebind.test passes the check when the call is placed (a name, not an address) and resolves to loopback
        // when the webhook goes out, as a DNS rebinding attack would arrange.
        await using var receiver = await WebhookReceiver.StartAsync();
        var port = new Uri(receiver.Url).Port;
        Task<IPAddress[]> Resolve(string host, CancellationToken ct) => Task.FromResult(host == "rebind.test" ? new[] { IPAddress.Loopback } : []);
        var url = $"http://rebind.test:{port}/hook";

        var refusing = new WebhookDestinations(null, Resolve);
        Assert.That(refusing.CheckUrl(url), Is.Null, "the URL alone shows nothing wrong");
        using (var http = new HttpClient(new SocketsHttpHandler { ConnectCallback = refusing.ConnectAsync }))
        {
            HttpRequestException? failed = null;
            try
            {
                await http.PostAsync(url, new StringContent("{}", Encoding.UTF8, "application/json"));
            }
            catch (HttpRequestException ex)
            {
                failed = ex;
            }
            Assert.That(failed?.InnerException, Is.InstanceOf<WebhookDestinationException>(), "refused when connecting");
            Assert.That(failed!.InnerException!.Message, Does.Contain("rebind.test resolves to 127.0.0.1").And.Contains("loopback"));
        }
        Assert.That(receiver.Requests, Is.Empty, "nothing reached the address");

        var allowing = new WebhookDestinations(["loopback"], Resolve);
        using (var http = new HttpClient(new SocketsHttpHandler { ConnectCallback = allowing.ConnectAsync }))
        {
            var response = await http.PostAsync(url, new StringContent("{}", Encoding.UTF8, "application/json"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }
        Assert.That(receiver.Requests, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task A_webhook_whose_name_resolves_to_a_refused_address_fails_at_once_and_is_not_retried()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var port = new Uri(receiver.Url).Port;
        Task<IPAddress[]> Resolve(string host, CancellationToken ct) => Task.FromResult(new[] { IPAddress.Loopback });
        await using var factory = new HostFactory();
        using var host = factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.AddSingleton(
            new WebhookOptions { Secret = [1, 2, 3], InitialBackoff = TimeSpan.FromMilliseconds(20), Destinations = new WebhookDestinations(null, Resolve) })));
        using var client = host.CreateClient();

        var placed = await client.PostAsync("/api/outbound-call", new StringContent(
            JsonSerializer.Serialize(new { to = "+15005550000", message = "Hi", webhookUrl = $"http://rebind.test:{port}/hook", webhookEvents = new[] { "completed" } }),
            Encoding.UTF8, "application/json"));
        Assert.That(placed.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a name passes when the call is placed");
        var callId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
        await HostFactory.WaitForEndAsync(client, callId);

        JsonElement delivery = default;
        await HostFactory.Eventually(async () =>
        {
            var call = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
            if (!call.TryGetProperty("webhooks", out var webhooks) || webhooks.GetProperty("failed").GetInt32() != 1)
            {
                return false;
            }
            delivery = webhooks.GetProperty("deliveries")[0];
            return true;
        }, "the webhook is failed");
        Assert.That(delivery.GetProperty("attempts").GetInt32(), Is.EqualTo(1), "not retried");
        Assert.That(delivery.GetProperty("lastError").GetString(), Does.Contain("rebind.test resolves to 127.0.0.1"));
        Assert.That(receiver.Requests, Is.Empty);
    }

    [Test]
    public async Task The_API_refuses_a_call_whose_webhook_points_at_the_metadata_service_or_at_loopback_unless_allowed()
    {
        await using var strict = new HostFactory(new() { ["WEBHOOK_ALLOWED_NETWORKS"] = null });
        using var client = strict.CreateClient();
        foreach (var url in new[] { "http://169.254.169.254/latest/meta-data/", "http://0xA9FEA9FE/", "http://127.0.0.1:5678/webhook" })
        {
            var response = await client.PostAsync("/api/outbound-call", new StringContent(
                JsonSerializer.Serialize(new { to = "+15005550000", message = "Hi", webhookUrl = url }), Encoding.UTF8, "application/json"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), url);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.That(problem.GetProperty("field").GetString(), Is.EqualTo("webhookUrl"));
            Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("must not point at"));
        }
        var history = await client.GetFromJsonAsync<JsonElement>("/api/calls?limit=10");
        Assert.That(history.GetProperty("count").GetInt32(), Is.Zero, "nothing of a refused call is kept");
    }
}
