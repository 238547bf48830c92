using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Voice.Control.Net;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Voice.Host.Tests;

/// <summary>Calls that come in, simulated through the API: applications from configuration, history, webhooks.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class InboundApiTests(Engine engine)
{
    private const string Secret = "whsec-inbound-0123456789";

    [TearDown]
    public void ReleaseFiles() => SqliteConnection.ClearAllPools();

    private static async Task<string> CallInAsync(HttpClient client, string json)
    {
        var response = await client.PostAsync("/api/simulate/inbound", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.That(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("ringing"));
        return body.GetProperty("callId").GetString()!;
    }

    [Test]
    public async Task A_call_to_a_configured_application_is_answered_recorded_and_reported_to_its_webhook()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new HostFactory(new Dictionary<string, string?>
        {
            ["WEBHOOK_SECRET"] = Secret,
            // As appsettings give it (in the environment: Applications__alerts__Say, Applications__alerts__WebhookUrl).
            ["Applications:alerts:Say"] = "You reached the alert line.",
            ["Applications:alerts:WebhookUrl"] = receiver.Url,
        }, engine: engine);
        using var client = factory.CreateClient();
        var callId = await CallInAsync(client, """{"from":"+15551230001","to":"200","application":"alerts"}""");

        var call = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That((call.GetProperty("state").GetString(), call.GetProperty("reason").GetString()), Is.EqualTo(("completed", "announce_complete")));
        Assert.That((call.GetProperty("direction").GetString(), call.GetProperty("source").GetString(), call.GetProperty("application").GetString()),
            Is.EqualTo(("inbound", "simulated", "alerts")));
        Assert.That((call.GetProperty("callerId").GetString(), call.GetProperty("to").GetString()), Is.EqualTo(("+15551230001", "200")));

        await HostFactory.Eventually(async () => await Task.FromResult(receiver.Accepted.Count == 3), "ringing, playing and completed");
        var hooks = receiver.Accepted.Select(h => JsonSerializer.Deserialize<JsonElement>(h.Body)).ToList();
        Assert.That(hooks.Select(h => h.GetProperty("event").GetString()), Is.EqualTo(new[] { "ringing", "playing", "completed" }));
        Assert.That(hooks.All(h => h.GetProperty("direction").GetString() == "inbound" && h.GetProperty("from").GetString() == "+15551230001"
            && h.GetProperty("application").GetString() == "alerts"));

        JsonElement stored = default;
        await HostFactory.Eventually(async () =>
        {
            var history = await client.GetFromJsonAsync<JsonElement>("/api/calls?state=completed");
            stored = history.GetProperty("calls").EnumerateArray().FirstOrDefault(c => c.GetProperty("callId").GetString() == callId);
            return stored.ValueKind == JsonValueKind.Object;
        }, "the call in the history");
        Assert.That((stored.GetProperty("direction").GetString(), stored.GetProperty("source").GetString()), Is.EqualTo(("inbound", "simulated")));
    }

    [Test]
    public async Task A_call_hook_application_is_asked_signed_and_the_callers_key_is_gathered()
    {
        using var hook = WireMockServer.Start();
        hook.Given(Request.Create().WithPath("/desk").UsingPost()).RespondWith(Response.Create().WithStatusCode(200)
            .WithHeader("Content-Type", "application/json").WithBody("""[{"verb":"gather","numDigits":1,"say":{"text":"Press 1 for the on-call engineer."}}]"""));
        await using var factory = new HostFactory(new Dictionary<string, string?>
        {
            ["WEBHOOK_SECRET"] = Secret,
            ["Applications:desk:CallHook"] = $"http://127.0.0.1:{hook.Port}/desk",
        }, engine: engine);
        using var client = factory.CreateClient();
        var callId = await CallInAsync(client, """{"from":"+15005551102","application":"desk"}""");

        var call = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That(call.GetProperty("digits").GetString(), Is.EqualTo("1"));
        var request = hook.LogEntries.Single().RequestMessage;
        var body = JsonSerializer.Deserialize<JsonElement>(request.Body!);
        Assert.That((body.GetProperty("from").GetString(), body.GetProperty("application").GetString(), body.GetProperty("callId").GetString()),
            Is.EqualTo(("+15005551102", "desk", callId)));
        Assert.That(WebhookSignature.Verify(Encoding.UTF8.GetBytes(Secret), request.Headers!["X-VoiceBridge-Signature"].ToString(), request.Body!, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)));
    }

    [Test]
    public async Task A_call_for_an_unknown_application_is_refused_and_says_why()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var callId = await CallInAsync(client, """{"from":"+15551230001","application":"sales"}""");
        var call = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That((call.GetProperty("state").GetString(), call.GetProperty("reason").GetString(), call.GetProperty("sipStatus").GetInt32()),
            Is.EqualTo(("failed", "no_application", 404)));
        Assert.That(call.GetProperty("detail").GetString(), Is.EqualTo("no application named 'sales'"));
    }

    [TestCase("""{"to":"200"}""", "from")]
    [TestCase("""{"from":"+1555\n"}""", "from")]
    [TestCase("""{"from":"+15551230001","application":"no such app!"}""", "application")]
    [TestCase("""{"from":"+15551230001","verbs":[{"verb":"say"}]}""", "verbs[0].say.text")]
    public async Task A_wrong_simulated_call_is_refused_naming_the_field(string json, string field)
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var response = await client.PostAsync("/api/simulate/inbound", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.That(errors.TryGetProperty(field, out _), $"{field} in {errors}");
    }
}
