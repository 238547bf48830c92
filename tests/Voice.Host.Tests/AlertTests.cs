using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Voice.Host.Tests;

/// <summary>Alerts with retries and escalation on the simulated backend: one POST owns its attempts, in the store.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class AlertTests(Engine engine)
{
    [TearDown]
    public void ReleaseFiles() => SqliteConnection.ClearAllPools();

    /// <summary>GET the call until its alert satisfies <paramref name="until"/>; returns the alert.</summary>
    private static async Task<JsonElement> AlertAsync(HttpClient client, string callId, Func<JsonElement, bool> until, string what)
    {
        JsonElement alert = default;
        await HostFactory.Eventually(async () =>
        {
            var call = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
            return call.TryGetProperty("alert", out alert) && until(alert);
        }, what);
        return alert;
    }

    private static bool HasStatus(JsonElement alert, string status) => alert.GetProperty("status").GetString() == status;

    [Test]
    public async Task A_busy_number_is_called_again_then_the_next_number_acknowledges_and_webhooks_name_each_attempt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var alertId = await HostFactory.PlaceAsync(client, $$"""
            {"to":"+15005550001","message":"Disk full on db-01.","acknowledge":{},"retry":{"attempts":2,"delaySeconds":0},
             "escalate":["+15005551102"],"webhookUrl":"{{receiver.Url}}","webhookEvents":["completed","failed"]}
            """);

        var alert = await AlertAsync(client, alertId, a => HasStatus(a, "acknowledged"), "the alert acknowledged");
        Assert.That(alert.GetProperty("alertId").GetString(), Is.EqualTo(alertId), "the POST's call id is the alert's");
        Assert.That(alert.GetProperty("acknowledgedBy").GetString(), Is.EqualTo("+15005551102"));
        var attempts = alert.GetProperty("attempts").EnumerateArray().ToList();
        Assert.That(attempts.Select(a => (a.GetProperty("attempt").GetInt32(), a.GetProperty("to").GetString(), a.GetProperty("reason").GetString())), Is.EqualTo(new[]
        {
            (1, "+15005550001", "busy"), (2, "+15005550001", "busy"), (3, "+15005551102", "announce_complete"),
        }));
        Assert.That(attempts[2].GetProperty("acknowledged").GetBoolean(), Is.True);

        // Every attempt's call shows the same alert.
        var last = await client.GetFromJsonAsync<JsonElement>($"/api/call/{attempts[2].GetProperty("callId").GetString()}");
        Assert.That(last.GetProperty("alert").GetProperty("status").GetString(), Is.EqualTo("acknowledged"));

        await HostFactory.Eventually(async () => await Task.FromResult(receiver.Accepted.Count == 3), "a final webhook per attempt");
        // Each attempt is a call of its own: webhooks keep order within a call, not across calls.
        var finals = receiver.Accepted.Select(h => JsonSerializer.Deserialize<JsonElement>(h.Body)).OrderBy(f => f.GetProperty("attempt").GetInt32()).ToList();
        Assert.That(finals.Select(f => (f.GetProperty("alertId").GetString(), f.GetProperty("attempt").GetInt32(), f.GetProperty("to").GetString())), Is.EqualTo(new[]
        {
            (alertId, 1, "+15005550001"), (alertId, 2, "+15005550001"), (alertId, 3, "+15005551102"),
        }));
        Assert.That(finals[2].GetProperty("acknowledged").GetBoolean(), Is.True);
    }

    [Test]
    public async Task An_alert_nobody_acknowledges_is_exhausted_after_its_attempts()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var alertId = await HostFactory.PlaceAsync(client, """
            {"to":"+15005550000","message":"Disk full.","acknowledge":{"tries":1,"timeoutSeconds":1},"retry":{"attempts":2,"delaySeconds":0}}
            """);
        var alert = await AlertAsync(client, alertId, a => HasStatus(a, "exhausted"), "the alert exhausted");
        Assert.That(alert.GetProperty("attempts").EnumerateArray().Select(a => (a.GetProperty("reason").GetString(), a.GetProperty("acknowledged").GetBoolean())),
            Is.EqualTo(new[] { ("announce_complete", false), ("announce_complete", false) }), "answered twice, acknowledged never");
        Assert.That(alert.GetProperty("acknowledgedBy").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public async Task Without_acknowledge_an_answer_ends_the_alert()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var alertId = await HostFactory.PlaceAsync(client, """{"to":"+15005550001","message":"Disk full.","escalate":["+15005550000"]}""");
        var alert = await AlertAsync(client, alertId, a => HasStatus(a, "answered"), "the alert answered");
        Assert.That(alert.GetProperty("answeredBy").GetString(), Is.EqualTo("+15005550000"));
        Assert.That(alert.GetProperty("attempts").GetArrayLength(), Is.EqualTo(2), "busy is not retried by default without attempts: the next number at once");
    }

    [Test]
    public async Task Hanging_up_through_the_API_stops_the_whole_alert()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var alertId = await HostFactory.PlaceAsync(client, """
            {"to":"+15005550001","message":"Disk full.","retry":{"attempts":3,"delaySeconds":600},"escalate":["+15005550000"]}
            """);
        await AlertAsync(client, alertId, a => a.GetProperty("nextAttemptAt").ValueKind == JsonValueKind.String, "the second attempt due");

        var response = await client.PostAsync($"/api/call/{alertId}/hangup", null);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var alert = await AlertAsync(client, alertId, a => HasStatus(a, "canceled"), "the alert canceled");
        Assert.That(alert.GetProperty("nextAttemptAt").ValueKind, Is.EqualTo(JsonValueKind.Null), "nothing is due any more");
        Assert.That(alert.GetProperty("attempts").GetArrayLength(), Is.EqualTo(1));
        var again = await client.PostAsync($"/api/call/{alertId}/hangup", null);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "the call and its alert have ended");
    }

    [Test]
    public async Task Hanging_up_the_running_attempt_stops_the_alert_and_the_call()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var alertId = await HostFactory.PlaceAsync(client, """
            {"to":"+15005550002","message":"Disk full.","timeoutSeconds":60,"retry":{"attempts":3,"delaySeconds":0}}
            """);
        await HostFactory.WaitForEndAsync(client, alertId, "ringing");
        var response = await client.PostAsync($"/api/call/{alertId}/hangup", null);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var ended = await HostFactory.WaitForEndAsync(client, alertId);
        Assert.That(ended.GetProperty("reason").GetString(), Is.EqualTo("canceled"));
        var alert = await AlertAsync(client, alertId, a => HasStatus(a, "canceled"), "the alert canceled");
        Assert.That(alert.GetProperty("attempts").GetArrayLength(), Is.EqualTo(1), "no attempt after the hang-up");
    }

    [Test]
    public async Task A_restart_in_the_middle_of_a_chain_goes_on_where_it_was()
    {
        using var database = new TestDatabase(engine);
        string alertId;
        await using (var first = database.Host())
        {
            using var client = first.CreateClient();
            alertId = await HostFactory.PlaceAsync(client, """
                {"to":"+15005550001","message":"Disk full.","acknowledge":{},"retry":{"attempts":2,"delaySeconds":2},"escalate":["+15005551102"]}
                """);
            await AlertAsync(client, alertId, a => a.GetProperty("nextAttemptAt").ValueKind == JsonValueKind.String, "the second attempt due");
        }
        SqliteConnection.ClearAllPools();

        await using var second = database.Host();
        using var after = second.CreateClient();
        var alert = await AlertAsync(after, alertId, a => HasStatus(a, "acknowledged"), "the alert acknowledged after the restart");
        Assert.That(alert.GetProperty("attempts").EnumerateArray().Select(a => (a.GetProperty("to").GetString(), a.GetProperty("reason").GetString())), Is.EqualTo(new[]
        {
            ("+15005550001", "busy"), ("+15005550001", "busy"), ("+15005551102", "announce_complete"),
        }));
        Assert.That(alert.GetProperty("acknowledgedBy").GetString(), Is.EqualTo("+15005551102"));
    }

    [TestCase("""{"to":"+15005550000","message":"Hi","retry":{"attempts":0}}""", "retry.attempts")]
    [TestCase("""{"to":"+15005550000","message":"Hi","retry":{"delaySeconds":7200}}""", "retry.delaySeconds")]
    [TestCase("""{"to":"+15005550000","message":"Hi","retry":{"on":["busy","bored"]}}""", "retry.on")]
    [TestCase("""{"to":"+15005550000","message":"Hi","retry":{"on":["not_acknowledged"]}}""", "retry.on")]
    [TestCase("""{"to":"+15005550000","message":"Hi","escalate":["+15005550001","not a number"]}""", "escalate[1]")]
    [TestCase("""{"to":"+15005550000","message":"Hi","escalate":["+19005550000"]}""", "escalate[0]")]
    [TestCase("""{"to":"+15005550000","message":"Hi","escalate":[]}""", "escalate")]
    public async Task A_wrong_retry_or_escalation_is_refused_naming_the_field(string json, string field)
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        var response = await client.PostAsync("/api/outbound-call", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.That(errors.TryGetProperty(field, out _), $"{field} in {errors}");
    }
}
