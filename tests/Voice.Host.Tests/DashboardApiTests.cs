using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Voice.Host.Tests;

/// <summary>What the dashboard uses besides the call API: the page, signing in, the session's CSRF rule, the event stream, the timeline and calls per day.</summary>
[TestFixture(Engine.Sqlite)]
[TestFixture(Engine.Postgres)]
public class DashboardApiTests(Engine engine)
{
    [TearDown]
    public void ReleaseFiles() => SqliteConnection.ClearAllPools();

    private static HttpClient Browser(HostFactory factory)
    {
        var client = factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { HandleCookies = true });
        client.DefaultRequestHeaders.Remove("X-API-Key");
        return client;
    }

    [Test]
    public async Task The_page_is_served_at_the_root_and_may_load_nothing_from_elsewhere()
    {
        await using var factory = new HostFactory(engine: engine);
        var response = await Browser(factory).GetAsync("/");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("<script src=\"/app.js\"></script>"));
        Assert.That(response.Headers.GetValues("Content-Security-Policy").Single(), Does.Contain("default-src 'self'").And.Contain("frame-ancestors 'none'"));
        Assert.That((await Browser(factory).GetAsync("/app.js")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Signing_in_gives_a_strict_http_only_session_whose_changes_need_the_csrf_token()
    {
        await using var factory = new HostFactory(engine: engine);
        using var browser = Browser(factory);
        Assert.That((await browser.PostAsJsonAsync("/auth/login", new { apiKey = "wrong-key-00000000000" })).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using (var crossSite = new HttpRequestMessage(HttpMethod.Post, "/auth/login") { Content = JsonContent.Create(new { apiKey = HostFactory.ApiKey }) })
        {
            crossSite.Headers.Add("Origin", "https://evil.example");
            Assert.That((await browser.SendAsync(crossSite)).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "another site's page cannot sign a browser in");
        }
        Assert.That((await browser.GetAsync("/api/calls")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "no session yet");

        var login = await browser.PostAsJsonAsync("/auth/login", new { apiKey = HostFactory.ApiKey });
        Assert.That(login.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var cookie = login.Headers.GetValues("Set-Cookie").Single();
        Assert.That(cookie, Does.StartWith("vb_session=").And.Contain("httponly").And.Contain("samesite=strict"));
        var csrf = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("csrfToken").GetString()!;

        Assert.That((await browser.GetAsync("/api/calls")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "reading with the session");
        var body = new StringContent("""{"to":"+15005550000","message":"Hi."}""", Encoding.UTF8, "application/json");
        var forged = await browser.PostAsync("/api/outbound-call", body);
        Assert.That((forged.StatusCode, (await forged.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString()),
            Is.EqualTo((HttpStatusCode.Forbidden, "csrf_failed")));
        using (var wrongToken = new HttpRequestMessage(HttpMethod.Post, "/api/outbound-call") { Content = new StringContent("""{"to":"+15005550000","message":"Hi."}""", Encoding.UTF8, "application/json") })
        {
            wrongToken.Headers.Add("X-CSRF-Token", csrf + "x");
            Assert.That((await browser.SendAsync(wrongToken)).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        }
        using (var page = new HttpRequestMessage(HttpMethod.Post, "/api/outbound-call") { Content = new StringContent("""{"to":"+15005550000","message":"Hi."}""", Encoding.UTF8, "application/json") })
        {
            page.Headers.Add("X-CSRF-Token", csrf);
            Assert.That((await browser.SendAsync(page)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the page's own change");
        }

        using (var logout = new HttpRequestMessage(HttpMethod.Post, "/auth/logout"))
        {
            logout.Headers.Add("X-CSRF-Token", csrf);
            Assert.That((await browser.SendAsync(logout)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }
        Assert.That((await browser.GetAsync("/api/calls")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "signed out");
    }

    [Test]
    public async Task The_event_stream_carries_each_state_change_as_it_happens()
    {
        await using var factory = new HostFactory(engine: engine);
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/event-stream"));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.That(await reader.ReadLineAsync(), Is.EqualTo(": connected"));

        var callId = await HostFactory.PlaceAsync(client, """{"to":"+15005550000","message":"Hi."}""");
        var states = new List<string>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!states.Contains("completed"))
        {
            var line = await reader.ReadLineAsync(deadline.Token);
            if (line is not null && line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var change = JsonDocument.Parse(line["data: ".Length..]).RootElement;
                Assert.That(change.GetProperty("callId").GetString(), Is.EqualTo(callId));
                states.Add(change.GetProperty("state").GetString()!);
            }
        }
        Assert.That(states, Is.EqualTo(new[] { "queued", "dialing", "ringing", "playing", "completed" }));

        var timeline = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}/timeline");
        Assert.That(timeline.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("state").GetString()), Is.EqualTo(states));
        var daily = await client.GetFromJsonAsync<JsonElement>("/api/stats/daily?days=7");
        var days = daily.GetProperty("days").EnumerateArray().ToList();
        Assert.That((days.Count, days[^1].GetProperty("calls").GetInt32()), Is.EqualTo((7, 1)));
        Assert.That((await client.GetAsync("/api/stats/daily?days=0")).StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await client.GetAsync("/api/call/nope/timeline")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
