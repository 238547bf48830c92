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

/// <summary>Call scripts through the REST API on the simulated backend: verbs, the acknowledge shorthand, hooks, and where results show.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class ScriptApiTests(Engine engine)
{
    private const string Secret = "whsec-scripts-0123456789";

    private static readonly Dictionary<string, string?> Settings = new() { ["WEBHOOK_SECRET"] = Secret, ["HOOK_TIMEOUT_SECONDS"] = "2" };

    [TearDown]
    public void ReleaseFiles() => SqliteConnection.ClearAllPools();

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json) =>
        client.PostAsync("/api/outbound-call", new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> ErrorsOfAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
    }

    [Test]
    public async Task A_dial_shows_each_targets_outcome_on_the_call_and_in_the_history()
    {
        await using var factory = new HostFactory(new(Settings) { ["Simulation:TalkTimeMs"] = "100" }, engine: engine);
        using var client = factory.CreateClient();
        var callId = await HostFactory.PlaceAsync(client, """
            {"to":"+15005550000","verbs":[{"verb":"dial","timeout":10,"target":[{"type":"phone","number":"+15005550001"},{"type":"phone","number":"+15005550000"}]}]}
            """);
        var ended = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That((ended.GetProperty("reason").GetString(), ended.GetProperty("detail").GetString()), Is.EqualTo(("remote_hangup", "the dialled party hung up")));
        var dials = ended.GetProperty("results").GetProperty("dials").EnumerateArray()
            .Select(d => (d.GetProperty("target").GetString(), d.GetProperty("outcome").GetString(), d.GetProperty("endedBy").GetString())).ToList();
        Assert.That(dials, Is.EquivalentTo(new[] { ("+15005550001", "busy", (string?)null), ("+15005550000", "answered", "callee") }));
        var history = await client.GetFromJsonAsync<JsonElement>("/api/calls?state=completed");
        Assert.That(history.GetProperty("calls")[0].GetProperty("results").GetProperty("dials").GetArrayLength(), Is.EqualTo(2), "kept with the call");
    }

    [TestCase("call me", HttpStatusCode.BadRequest, "validation_error")]
    [TestCase("+19005550100", HttpStatusCode.Forbidden, "destination_denied")]
    public async Task A_dial_target_that_cannot_be_called_is_refused_naming_it(string target, HttpStatusCode status, string code)
    {
        await using var factory = new HostFactory(Settings, engine: engine);
        using var client = factory.CreateClient();
        var response = await PostAsync(client, $$"""{"to":"+15005550000","verbs":[{"verb":"dial","target":[{"type":"phone","number":"{{target}}"}]}]}""");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That((response.StatusCode, problem.GetProperty("code").GetString(), problem.GetProperty("field").GetString()),
            Is.EqualTo((status, code, "verbs[0].dial.target[0]")));
    }

    [Test]
    public async Task Every_problem_in_the_verbs_is_named_by_its_path_and_nothing_is_placed()
    {
        await using var factory = new HostFactory(Settings, engine: engine);
        using var client = factory.CreateClient();
        var response = await PostAsync(client, """
            {"to":"+15005550000","verbs":[
              {"verb":"say","text":"Disk full."},
              {"verb":"gather","numDigits":40,"say":{"text":"Press 1."},"colour":"red"},
              {"verb":"dtmf","dtmf":"12x"}]}
            """);
        var errors = await ErrorsOfAsync(response);
        Assert.That(errors.EnumerateObject().Select(e => e.Name), Is.SupersetOf(new[] { "verbs[1].gather.numDigits", "verbs[1].gather.colour", "verbs[2].dtmf.dtmf" }));
        Assert.That(errors.GetProperty("verbs[1].gather.numDigits")[0].GetString(), Does.Contain("32"));
        var active = await client.GetFromJsonAsync<JsonElement>("/api/calls");
        Assert.That(active.GetProperty("count").GetInt32(), Is.Zero);
    }

    [TestCase("""{"to":"+15005550000","message":"Hi","verbs":[{"verb":"say","text":"Hi"}]}""", "message")]
    [TestCase("""{"to":"+15005550000"}""", "message")]
    [TestCase("""{"to":"+15005550000","verbs":[{"verb":"say","text":"Hi"}],"repeat":2}""", "repeat")]
    [TestCase("""{"to":"+15005550000","verbs":[{"verb":"say","text":"Hi"}],"acknowledge":{}}""", "acknowledge")]
    [TestCase("""{"to":"+15005550000","message":"Hi","acknowledge":{"digit":"12"}}""", "acknowledge.digit")]
    [TestCase("""{"to":"+15005550000","message":"Hi","acknowledge":{"digit":"1","repeatDigit":"1"}}""", "acknowledge.repeatDigit")]
    [TestCase("""{"to":"+15005550000","message":"Hi","acknowledge":{"tries":9}}""", "acknowledge.tries")]
    [TestCase("""{"to":"+15005550000","verbs":[{"verb":"redirect","actionHook":"http://169.254.169.254/latest"}]}""", "verbs[0].redirect.actionHook")]
    [TestCase("""{"to":"+15005550000","verbs":[{"verb":"dial","target":[{"type":"sip","sipUri":"sip:a@b"}]}]}""", "verbs[0].dial.target[0].type")]
    public async Task A_request_that_mixes_the_shorthands_wrongly_is_refused_naming_the_field(string json, string field)
    {
        await using var factory = new HostFactory(Settings, engine: engine);
        using var client = factory.CreateClient();
        var errors = await ErrorsOfAsync(await PostAsync(client, json));
        Assert.That(errors.TryGetProperty(field, out _), $"{field} in {errors}");
    }

    [Test]
    public async Task An_alert_repeated_then_acknowledged_shows_it_in_the_call_its_final_webhook_and_the_history()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new HostFactory(Settings, engine: engine);
        using var client = factory.CreateClient();
        var callId = await HostFactory.PlaceAsync(client, $$"""
            {"to":"+15005551212","message":"Disk full on db-01.","acknowledge":{"digit":"1","repeatDigit":"2","tries":3},"webhookUrl":"{{receiver.Url}}"}
            """);

        var call = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That((call.GetProperty("acknowledged").GetBoolean(), call.GetProperty("digits").GetString()), Is.EqualTo((true, "21")));
        Assert.That(call.GetProperty("results").GetProperty("gathers").GetArrayLength(), Is.EqualTo(2));

        await HostFactory.Eventually(async () => await Task.FromResult(receiver.Accepted.Any(h => h.EventHeader == "completed")), "the final webhook");
        var final = JsonSerializer.Deserialize<JsonElement>(receiver.Accepted.Single(h => h.EventHeader == "completed").Body);
        Assert.That((final.GetProperty("acknowledged").GetBoolean(), final.GetProperty("digits").GetString()), Is.EqualTo((true, "21")));
        var playing = JsonSerializer.Deserialize<JsonElement>(receiver.Accepted.Single(h => h.EventHeader == "playing").Body);
        Assert.That(playing.TryGetProperty("acknowledged", out _), Is.False, "nothing known at the answer");

        JsonElement stored = default;
        await HostFactory.Eventually(async () =>
        {
            var history = await client.GetFromJsonAsync<JsonElement>("/api/calls?state=completed");
            stored = history.GetProperty("calls").EnumerateArray().FirstOrDefault(c => c.GetProperty("callId").GetString() == callId);
            return stored.ValueKind == JsonValueKind.Object;
        }, "the call in the history");
        Assert.That((stored.GetProperty("acknowledged").GetBoolean(), stored.GetProperty("digits").GetString()), Is.EqualTo((true, "21")));
        Assert.That(stored.GetProperty("results").GetProperty("gathers")[0].GetProperty("digits").GetString(), Is.EqualTo("2"));
    }

    [Test]
    public async Task An_alert_nobody_acknowledges_says_so()
    {
        await using var factory = new HostFactory(Settings, engine: engine);
        using var client = factory.CreateClient();
        var callId = await HostFactory.PlaceAsync(client, """{"to":"+15005550000","message":"Disk full.","acknowledge":{"tries":1,"timeoutSeconds":1}}""");
        var call = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That((call.GetProperty("acknowledged").GetBoolean(), call.GetProperty("digits").GetString()), Is.EqualTo((false, "")));
    }

    [Test]
    public async Task A_gather_hook_is_signed_with_the_webhook_secret_and_its_verbs_run()
    {
        using var hook = WireMockServer.Start();
        hook.Given(Request.Create().WithPath("/n8n/gathered").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json")
                .WithBody("""[{"verb":"say","text":"Restarting nginx."},{"verb":"dtmf","dtmf":"9"}]"""));
        await using var factory = new HostFactory(Settings, engine: engine);
        using var client = factory.CreateClient();
        var callId = await HostFactory.PlaceAsync(client, $$"""
            {"to":"+15005551302","tag":{"service":"nginx"},"verbs":[
              {"verb":"gather","numDigits":1,"say":{"text":"Press 3 to restart nginx."},"actionHook":"http://127.0.0.1:{{hook.Port}}/n8n/gathered"},
              {"verb":"say","text":"Not reached."}]}
            """);
        var call = await HostFactory.WaitForEndAsync(client, callId);

        var request = hook.LogEntries.Single().RequestMessage;
        var body = JsonSerializer.Deserialize<JsonElement>(request.Body!);
        Assert.That((body.GetProperty("digits").GetString(), body.GetProperty("reason").GetString()), Is.EqualTo(("3", "dtmfDetected")));
        Assert.That(body.GetProperty("tag").GetProperty("service").GetString(), Is.EqualTo("nginx"));
        Assert.That(WebhookSignature.Verify(Encoding.UTF8.GetBytes(Secret), request.Headers!["X-VoiceBridge-Signature"].ToString(), request.Body!,
            DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), Is.True);
        var results = call.GetProperty("results");
        Assert.That(results.GetProperty("hooks")[0].GetProperty("outcome").GetString(), Is.EqualTo("replaced"));
        Assert.That(results.GetProperty("digitsSent")[0].GetString(), Is.EqualTo("9"));
        Assert.That(call.GetProperty("digits").GetString(), Is.EqualTo("3"));
    }

    [Test]
    public async Task A_hook_on_a_network_webhooks_may_not_reach_is_refused_when_placed()
    {
        await using var factory = new HostFactory(new Dictionary<string, string?>(Settings) { ["WEBHOOK_ALLOWED_NETWORKS"] = null }, engine: engine);
        using var client = factory.CreateClient();
        var errors = await ErrorsOfAsync(await PostAsync(client, """
            {"to":"+15005550000","verbs":[{"verb":"say","text":"Hi"},{"verb":"gather","actionHook":"http://127.0.0.1:5678/webhook"}]}
            """));
        Assert.That(errors.GetProperty("verbs[1].gather.actionHook")[0].GetString(), Does.Contain("loopback"));
    }
}
