using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Voice.Control.Calls;
using Voice.Host.Api;
using Voice.Host.Storage;

namespace Voice.Host.Tests;

/// <summary>Click-to-call and agents on the simulated backend: the agent first, then the destination, bridged; who is busy, and when they are free again.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class ClickToCallTests(Engine engine)
{
    [TearDown]
    public void ReleaseFiles() => SqliteConnection.ClearAllPools();

    private static Dictionary<string, string?> Settings(int talkMs = 300) => new()
    {
        ["AGENTS"] = "101=Alice,102=Bob",
        ["Simulation:TalkTimeMs"] = talkMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static Task<HttpResponseMessage> ClickAsync(HttpClient client, string json) =>
        client.PostAsync("/api/click-to-call", new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<string> PlacedAsync(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
    }

    private static async Task<JsonElement> AgentAsync(HttpClient client, string extension) =>
        (await client.GetFromJsonAsync<JsonElement>("/api/agents")).GetProperty("agents").EnumerateArray()
            .Single(a => a.GetProperty("extension").GetString() == extension);

    [Test]
    public async Task The_agent_is_rung_then_bridged_to_the_destination_busy_meanwhile_and_free_after()
    {
        await using var factory = new HostFactory(Settings(talkMs: 1500), engine: engine);
        using var client = factory.CreateClient();
        var callId = await PlacedAsync(await ClickAsync(client, """{"agent":"101","to":"+15005550000","record":true,"tag":{"crm":"lead-7"}}"""));

        var busy = await AgentAsync(client, "101");
        Assert.That((busy.GetProperty("available").GetBoolean(), busy.GetProperty("callId").GetString(), busy.GetProperty("name").GetString()),
            Is.EqualTo((false, callId, "Alice")));
        var second = await ClickAsync(client, """{"agent":"101","to":"+15005550000"}""");
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        var problem = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That((problem.GetProperty("code").GetString(), problem.GetProperty("field").GetString()), Is.EqualTo(("agent_busy", "agent")));
        Assert.That((await AgentAsync(client, "102")).GetProperty("available").GetBoolean(), Is.True, "another agent is not held");

        var live = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
        Assert.That((live.GetProperty("mode").GetString(), live.GetProperty("agent").GetString(), live.GetProperty("destination").GetString(), live.GetProperty("to").GetString()),
            Is.EqualTo(("click-to-call", "101", "+15005550000", "101")), "the agent is called first");
        Assert.That(live.GetProperty("callerId").GetString(), Is.EqualTo("+15005550000"), "the agent's phone shows whom it will call");

        var ended = await HostFactory.WaitForEndAsync(client, callId);
        Assert.That((ended.GetProperty("reason").GetString(), ended.GetProperty("detail").GetString()), Is.EqualTo(("remote_hangup", "the dialled party hung up")));
        var dial = ended.GetProperty("results").GetProperty("dials").EnumerateArray().Single();
        Assert.That((dial.GetProperty("target").GetString(), dial.GetProperty("outcome").GetString()), Is.EqualTo(("+15005550000", "answered")));
        Assert.That(ended.GetProperty("tag").GetProperty("crm").GetString(), Is.EqualTo("lead-7"));
        await HostFactory.Eventually(async () => (await AgentAsync(client, "101")).GetProperty("available").GetBoolean(), "the agent free again");
        await HostFactory.Eventually(async () =>
        {
            var call = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
            return call.TryGetProperty("recordings", out var r) && r[0].GetProperty("available").GetBoolean();
        }, "the recording of both legs");
        var day = (await AgentAsync(client, "101")).GetProperty("today");
        Assert.That((day.GetProperty("calls").GetInt32(), day.GetProperty("connected").GetInt32()), Is.EqualTo((1, 1)));
        var stored = (await client.GetFromJsonAsync<JsonElement>("/api/calls?state=completed")).GetProperty("calls")[0];
        Assert.That((stored.GetProperty("mode").GetString(), stored.GetProperty("agent").GetString(), stored.GetProperty("destination").GetString()),
            Is.EqualTo(("click-to-call", "101", "+15005550000")), "the history keeps both legs' numbers");
    }

    [Test]
    public async Task A_busy_destination_is_told_to_the_agent_and_frees_them()
    {
        await using var factory = new HostFactory(Settings(), engine: engine);
        using var client = factory.CreateClient();
        var callId = await PlacedAsync(await ClickAsync(client, """{"agent":"102","to":"+15005550001"}"""));
        var ended = await HostFactory.WaitForEndAsync(client, callId);

        Assert.That(ended.GetProperty("reason").GetString(), Is.EqualTo("announce_complete"), "the agent heard that it could not be connected");
        var dial = ended.GetProperty("results").GetProperty("dials")[0];
        Assert.That((dial.GetProperty("outcome").GetString(), dial.GetProperty("sipStatus").GetInt32()), Is.EqualTo(("busy", 486)));
        await HostFactory.Eventually(async () => (await AgentAsync(client, "102")).GetProperty("available").GetBoolean(), "the agent free again");
        var day = (await AgentAsync(client, "102")).GetProperty("today");
        Assert.That((day.GetProperty("calls").GetInt32(), day.GetProperty("connected").GetInt32()), Is.EqualTo((1, 0)));
    }

    [Test]
    public async Task An_agent_who_does_not_answer_is_free_again_and_one_created_on_first_use_is_listed()
    {
        await using var factory = new HostFactory(Settings(), engine: engine);
        using var client = factory.CreateClient();
        // The simulation's number that never answers stands for the agent's phone.
        var callId = await PlacedAsync(await ClickAsync(client, """{"agent":"+15005550002","to":"+15005550000","timeoutSeconds":5}"""));
        Assert.That((await AgentAsync(client, "+15005550002")).GetProperty("available").GetBoolean(), Is.False);
        var ended = await HostFactory.WaitForEndAsync(client, callId);

        Assert.That(ended.GetProperty("reason").GetString(), Is.EqualTo("no_answer"));
        Assert.That(ended.TryGetProperty("results", out _), Is.False, "the destination was never dialled");
        var agent = await AgentAsync(client, "+15005550002");
        Assert.That((agent.GetProperty("available").GetBoolean(), agent.GetProperty("name").ValueKind), Is.EqualTo((true, JsonValueKind.Null)));
        var all = (await client.GetFromJsonAsync<JsonElement>("/api/agents")).GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("extension").GetString());
        Assert.That(all, Is.EqualTo(new[] { "+15005550002", "101", "102" }), "configured agents and the one created on first use");
    }

    [Test]
    public async Task After_a_restart_an_agent_whose_call_was_cut_short_is_free()
    {
        using var database = new TestDatabase(engine);
        using (var store = database.Open())
        {
            await store.InitializeAsync();
            var now = DateTimeOffset.UtcNow;
            await store.InsertAsync(new CallRecord
            {
                CallId = "cut-short", To = "101", Message = "Calling.", State = "queued", CreatedAt = now, Mode = "click-to-call", Agent = "101",
                Destination = "+15005550000", RequestJson = """{"to":"101","message":"Calling."}""",
            }, null, null);
            await store.RecordAsync(
            [
                new CallStateChange("cut-short", 1, null, CallState.Queued, now),
                new CallStateChange("cut-short", 2, CallState.Queued, CallState.Dialing, now),
                new CallStateChange("cut-short", 3, CallState.Dialing, CallState.Playing, now, SipStatus: 200),
            ]);
        }
        SqliteConnection.ClearAllPools();

        await using var factory = database.Host(Settings());
        using var client = factory.CreateClient();
        var call = await client.GetFromJsonAsync<JsonElement>("/api/call/cut-short");
        Assert.That((call.GetProperty("reason").GetString(), call.GetProperty("agent").GetString()), Is.EqualTo(("host_restart", "101")));
        Assert.That((await AgentAsync(client, "101")).GetProperty("available").GetBoolean(), Is.True);
        await PlacedAsync(await ClickAsync(client, """{"agent":"101","to":"+15005550000"}"""));
    }

    [TestCase("""{"to":"+15005550000"}""", HttpStatusCode.BadRequest, "agent")]
    [TestCase("""{"agent":"101"}""", HttpStatusCode.BadRequest, "to")]
    [TestCase("""{"agent":"101","to":"call me"}""", HttpStatusCode.BadRequest, "to")]
    [TestCase("""{"agent":"101","to":"+19005550100"}""", HttpStatusCode.Forbidden, "to")]
    [TestCase("""{"agent":"101","to":"+15005550000","timeoutSeconds":1}""", HttpStatusCode.BadRequest, "timeoutSeconds")]
    [TestCase("""{"agent":"101","to":"+15005550000","webhookUrl":"ftp://x"}""", HttpStatusCode.BadRequest, "webhookUrl")]
    public async Task A_click_that_cannot_be_placed_is_refused_naming_the_field_and_holds_nobody(string json, HttpStatusCode status, string field)
    {
        await using var factory = new HostFactory(Settings(), engine: engine);
        using var client = factory.CreateClient();
        var response = await ClickAsync(client, json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        var problem = JsonDocument.Parse(text).RootElement;
        var named = problem.TryGetProperty("errors", out var errors) ? errors.EnumerateObject().Select(e => e.Name) : [problem.GetProperty("field").GetString()!];
        Assert.That(named, Does.Contain(field));
        Assert.That((await AgentAsync(client, "101")).GetProperty("available").GetBoolean(), Is.True, "a refused click holds nobody");
    }

    [Test]
    public void Numbers_are_said_digit_by_digit_in_groups() =>
        Assert.That(ClickToCallApi.Spoken("+15551234567"), Is.EqualTo("plus 1, 5 5 5, 1 2 3, 4 5 6 7"));
}
