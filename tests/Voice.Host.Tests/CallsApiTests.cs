using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Voice.Host.Tests;

/// <summary>The original API's curl examples and contract, on the simulated backend.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class CallsApiTests(Engine engine)
{
    private HostFactory _factory = null!;
    private HttpClient _client = null!;

    [SetUp]
    public void Start()
    {
        _factory = new HostFactory(engine: engine);
        _client = _factory.CreateClient();
    }

    [TearDown]
    public async Task Stop()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    private Task<HttpResponseMessage> PostJsonAsync(string json) =>
        _client.PostAsync("/api/outbound-call", new StringContent(json, Encoding.UTF8, "application/json"));

    [Test]
    public async Task The_original_health_check_lists_no_calls()
    {
        var body = await _client.GetStringAsync("/api/calls");
        Assert.That(body, Is.EqualTo("""{"success":true,"count":0,"calls":[]}"""));
    }

    [Test]
    public async Task The_original_test_call_is_queued_and_goes_through_every_state()
    {
        var response = await PostJsonAsync("""
            {
              "to": "+15551234567",
              "message": "Hello from your server! This is a test call from the voice interface system."
            }
            """);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var placed = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(placed.GetProperty("success").GetBoolean(), Is.True);
        Assert.That(placed.GetProperty("status").GetString(), Is.EqualTo("queued"));
        Assert.That(placed.GetProperty("message").GetString(), Is.EqualTo("Call initiated"));
        Assert.That(placed.GetProperty("simulated").GetBoolean(), Is.True);
        var callId = placed.GetProperty("callId").GetString()!;
        Assert.That(Guid.TryParse(callId, out var uuid), Is.True);
        Assert.That(uuid.Version, Is.EqualTo(7), "a UUID in the order calls were made (the store's indexes keep the running calls together)");

        var call = await HostFactory.WaitForEndAsync(_client, callId);
        Assert.That(call.GetProperty("success").GetBoolean(), Is.True);
        Assert.That(call.GetProperty("callId").GetString(), Is.EqualTo(callId));
        Assert.That(call.GetProperty("to").GetString(), Is.EqualTo("+15551234567"));
        Assert.That(call.GetProperty("state").GetString(), Is.EqualTo("completed"));
        Assert.That(call.GetProperty("mode").GetString(), Is.EqualTo("announce"));
        Assert.That(call.GetProperty("reason").GetString(), Is.EqualTo("announce_complete"));
        Assert.That(call.GetProperty("duration").ValueKind, Is.EqualTo(JsonValueKind.Number));
        foreach (var time in new[] { "createdAt", "answeredAt", "endedAt" })
        {
            Assert.That(DateTimeOffset.TryParse(call.GetProperty(time).GetString(), System.Globalization.CultureInfo.InvariantCulture, out _), Is.True, time);
        }
        Assert.That(await _client.GetStringAsync("/api/calls"), Does.Contain("\"count\":0"), "ended calls are no longer active");
    }

    [Test]
    public async Task Active_calls_are_listed_and_hanging_up_while_ringing_cancels()
    {
        var placed = await (await PostJsonAsync("""{"to":"+15005550002","message":"Nobody answers this","timeoutSeconds":60,"tag":{"alert":"nas-01","level":2}}"""))
            .Content.ReadFromJsonAsync<JsonElement>();
        var callId = placed.GetProperty("callId").GetString()!;
        await HostFactory.WaitForEndAsync(_client, callId, "ringing");

        var list = await _client.GetFromJsonAsync<JsonElement>("/api/calls");
        Assert.That(list.GetProperty("count").GetInt32(), Is.EqualTo(1));
        var listed = list.GetProperty("calls")[0];
        Assert.That((listed.GetProperty("callId").GetString(), listed.GetProperty("state").GetString()), Is.EqualTo((callId, "ringing")));
        Assert.That(listed.GetProperty("tag").GetProperty("alert").GetString(), Is.EqualTo("nas-01"), "the tag comes back as JSON");

        var hangup = await _client.PostAsync($"/api/call/{callId}/hangup", null);
        Assert.That(hangup.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await hangup.Content.ReadAsStringAsync(), Is.EqualTo($$"""{"success":true,"message":"Call hangup initiated","callId":"{{callId}}"}"""));
        var ended = await HostFactory.WaitForEndAsync(_client, callId);
        Assert.That((ended.GetProperty("state").GetString(), ended.GetProperty("reason").GetString()), Is.EqualTo(("failed", "canceled")));

        var again = await _client.PostAsync($"/api/call/{callId}/hangup", null);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        var unknown = await _client.PostAsync("/api/call/no-such-call/hangup", null);
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var missing = await _client.GetAsync("/api/call/no-such-call");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var problem = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("success").GetBoolean(), Is.False);
        Assert.That(problem.GetProperty("error").GetString(), Does.Contain("not found"));
    }

    [TestCase("""{"message":"hi"}""", "to", "is required")]
    [TestCase("""{"to":"+15551234567"}""", "message", "is required")]
    [TestCase("""{"to":"+15551234567","message":""}""", "message", "is required")]
    [TestCase("""{"to":"+1555","message":"hi"}""", "to", "ten digits")]
    [TestCase("""{"to":"abc","message":"hi"}""", "to", "contains 'a'")]
    [TestCase("""{"to":"+15551234567\r\nVia: x","message":"hi"}""", "to", "control characters")]
    [TestCase("""{"to":"+15551234567","message":"line one\nline two"}""", "message", "control characters")]
    [TestCase("""{"to":"+15551234567","message":"nul\u0000here"}""", "message", "control characters")]
    [TestCase("""{"to":"+15551234567","message":"hi","mode":"conversation"}""", "mode", "not supported yet")]
    [TestCase("""{"to":"+15551234567","message":"hi","mode":"chat"}""", "mode", "announce or conversation")]
    [TestCase("""{"to":"+15551234567","message":"hi","timeoutSeconds":4}""", "timeoutSeconds", "between 5 and 120")]
    [TestCase("""{"to":"+15551234567","message":"hi","timeoutSeconds":121}""", "timeoutSeconds", "between 5 and 120")]
    [TestCase("""{"to":"+15551234567","message":"hi","webhookUrl":"ftp://example.com/x"}""", "webhookUrl", "http or https")]
    [TestCase("""{"to":"+15551234567","message":"hi","webhookUrl":"/relative"}""", "webhookUrl", "absolute")]
    [TestCase("""{"to":"+15551234567","message":"hi","callerId":"+1555\r\nX: y"}""", "callerId", "phone number or SIP user")]
    [TestCase("""{"to":"+15551234567","message":"hi","headers":{"Via":"x"}}""", "headers", "only X- headers")]
    [TestCase("""{"to":"+15551234567","message":"hi","headers":{"X-Alert":"a\r\nb"}}""", "headers", "control characters")]
    [TestCase("""{"to":"+15551234567","message":"hi","repeat":6}""", "repeat", "between 1 and 5")]
    [TestCase("""{"to":"+15551234567","message":"hi","voice":"kal|x"}""", "voice", "voice name")]
    [TestCase("""{"to":"+15551234567","message":"hi","webhookEvents":["completed"]}""", "webhookEvents", "needs a webhookUrl")]
    [TestCase("""{"to":"+15551234567","message":"hi","webhookUrl":"https://x.example/h","webhookEvents":["done"]}""", "webhookEvents", "must name states")]
    public async Task Each_rule_refuses_with_the_field_and_the_reason(string json, string field, string reason)
    {
        var response = await PostJsonAsync(json);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("success").GetBoolean(), Is.False);
        Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo(400));
        Assert.That(problem.GetProperty("field").GetString(), Is.EqualTo(field));
        Assert.That(problem.GetProperty("error").GetString(), Does.StartWith(field + ":").And.Contain(reason));
        Assert.That(problem.GetProperty("message").GetString(), Is.EqualTo(problem.GetProperty("error").GetString()));
        Assert.That(await _client.GetStringAsync("/api/calls"), Does.Contain("\"count\":0"), "nothing was queued");
    }

    [TestCase("""{"to":"+15551234567","message":"hi",""", 400, "malformed_json")]
    [TestCase("""[1,2]""", 400, "malformed_json")]
    [TestCase("""null""", 400, "malformed_json")]
    [TestCase("""{"to":"+15551234567","message":"hi","timeoutSeconds":"thirty"}""", 400, "malformed_json")]
    [TestCase("""{"to":42,"message":"hi"}""", 400, "malformed_json")]
    [TestCase("""{"to":"+19005551234","message":"hi"}""", 403, "destination_denied")]
    public async Task Malformed_and_forbidden_requests_get_a_clear_problem_never_a_500(string json, int status, string code)
    {
        var response = await PostJsonAsync(json);
        Assert.That((int)response.StatusCode, Is.EqualTo(status));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo(code));
        Assert.That(problem.GetProperty("success").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Answers_carry_their_length_so_a_client_reads_them_in_one_piece()
    {
        var placed = await PostJsonAsync("""{"to":"+15551234567","message":"Backup finished."}""");
        var callId = (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
        var call = await _client.GetAsync($"/api/call/{callId}");
        var missing = await _client.GetAsync("/api/call/no-such-call");
        var refused = await PostJsonAsync("""{"to":"","message":"Backup finished."}""");

        foreach (var (what, response, type) in new[] { ("POST", placed, "application/json"), ("GET", call, "application/json"), ("404", missing, "application/problem+json"), ("400", refused, "application/problem+json") })
        {
            // Read as sent: the ContentLength property would compute a length from the buffered body.
            Assert.That(response.Content.Headers.NonValidated.TryGetValues("Content-Length", out var length), Is.True, what);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.That(length.ToString(), Is.EqualTo(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), what);
            Assert.That(response.Headers.TransferEncodingChunked, Is.Not.True, what);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo(type), what);
            Assert.That(JsonDocument.Parse(body).RootElement.ValueKind, Is.EqualTo(JsonValueKind.Object), what);
        }
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task A_body_that_is_too_large_or_not_JSON_is_refused()
    {
        var huge = await PostJsonAsync($$"""{"to":"+15551234567","message":"{{new string('a', 70_000)}}"}""");
        Assert.That(huge.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));

        var text = await _client.PostAsync("/api/outbound-call", new StringContent("to=+15551234567", Encoding.UTF8, "text/plain"));
        Assert.That(text.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That((await text.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("success").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Every_simulated_outcome_reports_its_reason()
    {
        var expected = new Dictionary<string, (string State, string Reason)>
        {
            ["+15005550000"] = ("completed", "announce_complete"),
            ["+15005550001"] = ("failed", "busy"),
            ["+15005550003"] = ("failed", "not_found"),
            ["+15005550004"] = ("failed", "rejected"),
            ["+15005550005"] = ("completed", "remote_hangup"),
            ["101"] = ("completed", "announce_complete"),
        };
        foreach (var (to, (state, reason)) in expected)
        {
            var placed = await (await PostJsonAsync($$"""{"to":"{{to}}","message":"The backup failed twice tonight and needs a look."}""")).Content.ReadFromJsonAsync<JsonElement>();
            var call = await HostFactory.WaitForEndAsync(_client, placed.GetProperty("callId").GetString()!);
            Assert.That((call.GetProperty("state").GetString(), call.GetProperty("reason").GetString()), Is.EqualTo((state, reason)), to);
            Assert.That(call.GetProperty("simulated").GetBoolean(), Is.True);
        }
    }
}
